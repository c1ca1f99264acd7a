#!/usr/bin/python3
"""zeep, as a Python client of VBS would use it, for the WS-Security interop tests.

zeep's BinarySignature signs the Body, and a Timestamp only if one is already in the header, so a
small plugin adds a 5-minute wsu:Timestamp first (composed with zeep.wsse.compose.Compose). zeep checks
a response's signature with the key it was given; ServerSigned checks it with the service's certificate.

  sign WSDL KEY CERT [sha1|ecdsa|default]
                                     print a signed CreateVolume request (rendered, not sent):
                                     rsa-sha256 by default, rsa-sha1, ecdsa-sha256 (an EC P-256 key), or
                                     'default': BinarySignature as zeep makes it when given no methods
                                     (rsa-sha1 with sha1 digests, zeep's own defaults)
  verify XML_FILE CERT               zeep's own check of a signed envelope (any key xmlsec reads from
                                     the certificate: RSA, or EC as VBS services now hold); prints "ok"
  call WSDL URL KEY CERT SERVER_CERT [ALGORITHM]
                                     send a signed CreateVolume (rsa-sha256, or as for sign), check the
                                     signed answer, print volumeId
"""
import datetime
import sys

import xmlsec
from lxml import etree
from zeep import Client
from zeep.wsse.compose import Compose
from zeep.wsse.signature import BinarySignature, _make_verify_key, _read_file, _verify_envelope_with_key
from zeep.wsse.utils import WSU, get_security_header, get_timestamp

BINDING = '{http://ec2.amazonaws.com/doc/2010-08-31/}AmazonEC2Binding'


class Timestamp:
    """Adds a wsu:Timestamp (Created, Expires = Created + 5 min) before BinarySignature runs."""

    def apply(self, envelope, headers):
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        security = get_security_header(envelope)
        security.append(WSU.Timestamp(
            WSU.Created(get_timestamp(now, zulu_timestamp=True)),
            WSU.Expires(get_timestamp(now + datetime.timedelta(minutes=5), zulu_timestamp=True)),
        ))
        return envelope, headers

    def verify(self, envelope):
        return envelope


class ServerSigned:
    """Signs nothing; verifies a response with the service's certificate, not the client's."""

    def __init__(self, server_cert):
        self.server_cert = _read_file(server_cert)

    def apply(self, envelope, headers):
        return envelope, headers

    def verify(self, envelope):
        _verify_envelope_with_key(envelope, _make_verify_key(self.server_cert))
        return envelope


def signer(key, cert, algorithm='sha256'):
    if algorithm == 'default':
        # What a zeep user writes who does not choose: zeep's defaults are rsa-sha1 and sha1.
        return BinarySignature(key, cert)
    methods = {
        'sha256': xmlsec.Transform.RSA_SHA256,
        'sha1': xmlsec.Transform.RSA_SHA1,
        'ecdsa': xmlsec.Transform.ECDSA_SHA256,
    }
    return BinarySignature(
        key, cert,
        signature_method=methods[algorithm],
        digest_method=xmlsec.Transform.SHA1 if algorithm == 'sha1' else xmlsec.Transform.SHA256,
    )


class ClientSigning(Compose):
    """Timestamp + BinarySignature on the way out; the service's certificate on the way back."""

    def __init__(self, key, cert, server_cert, algorithm='sha256'):
        super().__init__([Timestamp(), signer(key, cert, algorithm)])
        self.server = ServerSigned(server_cert)

    def verify(self, envelope):
        self.server.verify(envelope)


def main(argv):
    mode = argv[0]
    if mode == 'sign':
        wsdl, key, cert = argv[1:4]
        algorithm = argv[4] if len(argv) > 4 else 'sha256'
        client = Client(wsdl, wsse=Compose([Timestamp(), signer(key, cert, algorithm)]))
        envelope = client.create_message(client.service, 'CreateVolume', size='1', availabilityZone='zone-a')
        sys.stdout.write(etree.tostring(envelope, encoding='unicode'))
    elif mode == 'verify':
        xml_file, cert = argv[1:3]
        envelope = etree.fromstring(_read_file(xml_file))
        ServerSigned(cert).verify(envelope)
        sys.stdout.write('ok')
    elif mode == 'call':
        wsdl, url, key, cert, server_cert = argv[1:6]
        algorithm = argv[6] if len(argv) > 6 else 'sha256'
        client = Client(wsdl, wsse=ClientSigning(key, cert, server_cert, algorithm))
        service = client.create_service(BINDING, url)
        answer = service.CreateVolume(size='1', availabilityZone='zone-a')
        sys.stdout.write(answer.volumeId)
    else:
        raise SystemExit('unknown mode ' + mode)


if __name__ == '__main__':
    main(sys.argv[1:])
