/** Where the contracts live at run time: wsdl/ at the top of the package, beside dist/. */
import { fileURLToPath } from 'node:url';

export const WSDL_DIR = fileURLToPath(new URL('../../../wsdl/', import.meta.url));
