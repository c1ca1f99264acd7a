/** Sends hand-made bytes to a SOAP endpoint, for the requests no well-behaved client would send. */
import { request } from 'node:https';

export interface RawAnswer {
  readonly status: number;
  readonly body: string;
}

export function rawPost(
  url: string,
  caPem: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: caPem, headers: { 'content-type': 'text/xml; charset=utf-8', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const EC2_NS = 'http://ec2.amazonaws.com/doc/2010-08-31/';

export function envelope(payload: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${payload}</soap:Body></soap:Envelope>`;
}

/** The EC2 error code of a fault answer (its detail's vbs:Code), or undefined when it is not a fault. */
export function faultCode(answer: RawAnswer): string | undefined {
  return /<vbs:Code>([^<]*)<\/vbs:Code>/.exec(answer.body)?.[1];
}
