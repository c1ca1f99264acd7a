/**
 * The strict EC2 endpoint (/ec2). VBS's own contract (/vbs) adds optional elements at the end of
 * some of EC2's response types (volumeType, attachMode, vmmHost). Lenient clients skip what they do
 * not know, but a strict one generated from Amazon's WSDL (zeep by default) refuses a response with
 * an element its schema lacks. On /ec2 the same operations answer in exactly Amazon's 2010-08-31
 * shapes, and its WSDL is ours without the extensions.
 */
import { withoutExtensions, type ServiceSchema } from '../../soap/schema.js';

export const EC2_PATH = '/ec2';

export function ec2Schema(vbs: ServiceSchema): ServiceSchema {
  return withoutExtensions(vbs);
}

const EXTENSION_ELEMENT =
  /\n\s*<xs:element minOccurs="0" name="\w+" type="xs:string">\s*<xs:annotation><xs:documentation>VBS extension:[^<]*<\/xs:documentation><\/xs:annotation>\s*<\/xs:element>/g;

export function ec2Wsdl(vbsWsdl: string): string {
  const stripped = vbsWsdl.replace(EXTENSION_ELEMENT, '');
  if (stripped.includes('VBS extension:'))
    throw new Error('wsdl/frontend.wsdl: an extension element is not in the expected form');
  return stripped.replace(/(<soap:address location="https:\/\/[^"/]+)\/vbs"/, `$1${EC2_PATH}"`);
}
