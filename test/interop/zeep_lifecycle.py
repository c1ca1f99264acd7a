#!/usr/bin/python3
"""The whole VBS volume/snapshot life cycle driven by Python zeep, an independent SOAP stack.

Usage: zeep_lifecycle.py URL CA_PEM KEY CERT SERVER_CERT [--ec2-wsdl PATH] [--lax]

By default the client is built from the WSDL the frontend serves (URL?wsdl). With --ec2-wsdl it is
built from Amazon's own EC2 2010-08-31 WSDL and only the service address is changed to URL.
--lax builds the client with zeep's strict=False (it then keeps elements it does not know instead
of refusing the message); it exists to tell "refused only because of unknown elements" apart from
any other incompatibility, and is never the default.

Every request is signed as the user whose KEY and CERT are given, the way a zeep user does it: a
wsu:Timestamp plugin and BinarySignature (rsa-sha256, sha256 digests) composed with
zeep.wsse.compose.Compose (ClientSigning in ../security/wssec/zeep_wssec.py). zeep checks the signature
of every answer, faults too, before it looks at it; here against SERVER_CERT, the frontend's service
certificate, not the client's own. The last line counts the requests signed and the answers verified.

Every step prints one JSON line of what the client saw ({"step": ..., ...}); the script checks each
answer itself and exits non-zero at the first surprise, after a last line {"step": "failed", ...}.
Runs only with Debian's /usr/bin/python3 (python3-zeep).
"""
import argparse
import json
import os
import sys
import time

import requests
import zeep
from zeep.exceptions import Fault
from zeep.helpers import serialize_object
from zeep.transports import Transport

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'security', 'wssec'))
from zeep_wssec import ClientSigning  # noqa: E402  (a sibling test helper, found by path)

NS = 'http://ec2.amazonaws.com/doc/2010-08-31/'
FAULT_NS = 'urn:vbs:fault:2026-11'
BINDING = '{%s}AmazonEC2Binding' % NS
ZONE = 'vbs-local-1a'
UNKNOWN_VOLUME = 'vol-0123456789abcdef0'
UNKNOWN_INSTANCE = 'i-0123456789abcdef0'
# What must never reach a client inside a fault: stack frames, source paths, internal names.
LEAK_MARKERS = ('    at ', '.js:', '.ts:', '.py', 'node_modules', 'Traceback', 'SQLITE', 'sqlite', '/work/', '/tmp/', 'TypeError', 'ReferenceError')


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def emit(step, **fields):
    print(json.dumps({'step': step, **fields}, default=str, sort_keys=True), flush=True)


def plain(value):
    """zeep's answer as JSON-able dicts and lists (datetimes become ISO text, raw elements their tag)."""
    data = serialize_object(value, dict)

    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        if hasattr(v, 'isoformat'):
            return v.isoformat()
        if hasattr(v, 'tag'):
            return 'element:%s' % v.tag
        if v is not None and not isinstance(v, (str, int, float, bool)):
            return [walk(x) for x in v] if hasattr(v, '__iter__') else str(v)
        return v
    return walk(data)


def items(answer, set_name):
    container = answer.get(set_name) or {}
    return container.get('item') or []


def fault_of(call, *args, **kwargs):
    """Runs a call that must fail; returns what zeep saw of the SOAP fault."""
    try:
        call(*args, **kwargs)
    except Fault as fault:
        detail = fault.detail
        def text(name):
            if detail is None:
                return None
            found = detail.xpath('.//*[local-name()=$n]', n=name)
            return found[0].text if found else None
        children = [] if detail is None else [c for c in detail if isinstance(c.tag, str)]
        return {
            'detail': [c.tag for c in children],
            'faultcode': fault.code,
            'faultstring': fault.message,
            'code': text('Code'),
            'message': text('Message'),
            'requestId': text('RequestID'),
        }
    raise CheckFailed('expected a SOAP fault, the call succeeded')


def check_clean_fault(f, faultcode, code):
    check(f['faultcode'] == faultcode, 'faultcode %r, expected %r' % (f['faultcode'], faultcode))
    check(f['code'] == code, 'detail Code %r, expected %r' % (f['code'], code))
    check(bool(f['requestId']) and len(f['requestId']) >= 8, 'fault detail has no RequestID: %r' % (f,))
    # One element in detail, as strict toolkits (gSOAP) read it: vbs:Error with Code, Message, RequestID.
    check(f['detail'] == ['{%s}Error' % FAULT_NS], 'fault detail holds %r, expected one vbs:Error' % (f['detail'],))
    for part in (f['faultstring'] or '', f['message'] or ''):
        for marker in LEAK_MARKERS:
            check(marker not in part, 'fault text leaks %r: %r' % (marker, part))


def until(what, fetch, done, timeout=20.0):
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        value = fetch()
        if done(value):
            return value, polls
        if time.monotonic() > deadline:
            raise CheckFailed('%s: not reached within %ss, last %r' % (what, timeout, value))
        time.sleep(0.1)


def filters(**named):
    return {'item': [{'name': n.replace('_', '-'), 'valueSet': {'item': [{'value': v}]}} for n, v in named.items()]}


class CountingSigning(ClientSigning):
    """ClientSigning that counts what it signed and what it verified, for the last line."""

    def __init__(self, key, cert, server_cert):
        super().__init__(key, cert, server_cert)
        self.signed = 0
        self.verified = 0

    def apply(self, envelope, headers):
        result = super().apply(envelope, headers)
        self.signed += 1
        return result

    def verify(self, envelope):
        super().verify(envelope)  # raises zeep.exceptions.SignatureVerificationFailed
        self.verified += 1


def build_service(args, wsse):
    session = requests.Session()
    session.verify = args.ca
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment replace session.verify;
    # this client must trust the cluster's CA file and nothing else, so the environment is ignored.
    session.trust_env = False
    settings = zeep.Settings(strict=not args.lax)
    transport = Transport(session=session, timeout=10, operation_timeout=10)
    if args.ec2_wsdl:
        client = zeep.Client(args.ec2_wsdl, transport=transport, settings=settings, wsse=wsse)
        service = client.create_service(BINDING, args.url)
        emit('client', wsdl='ec2', strict=not args.lax, address=args.url)
    else:
        client = zeep.Client(args.url + '?wsdl', transport=transport, settings=settings, wsse=wsse)
        service = client.service
        emit('client', wsdl='served', strict=not args.lax, address=service._binding_options['address'])
    return service


def lifecycle(svc, state):
    state['at'] = 'zones'
    zones = plain(svc.DescribeAvailabilityZones(availabilityZoneSet={}))
    zone_items = items(zones, 'availabilityZoneInfo')
    emit('zones', requestId=zones['requestId'], zones=[{'name': z['zoneName'], 'state': z['zoneState'], 'region': z['regionName']} for z in zone_items])
    check(any(z['zoneName'] == ZONE and z['zoneState'] == 'available' for z in zone_items), 'zone %s not available' % ZONE)

    state['at'] = 'create-volume'
    created = plain(svc.CreateVolume(size='1', availabilityZone=ZONE))
    vol = created['volumeId']
    emit('create-volume', volumeId=vol, size=created['size'], status=created['status'], zone=created['availabilityZone'],
         snapshotId=created['snapshotId'], createTime=created['createTime'])
    check(vol.startswith('vol-'), 'bad volume ID %r' % vol)
    check(created['size'] == '1' and created['status'] in ('creating', 'available'), 'bad CreateVolume answer %r' % created)

    state['at'] = 'volume-available'
    describe_vol = lambda v: plain(svc.DescribeVolumes(volumeSet={'item': [{'volumeId': v}]}))
    answer, polls = until('volume available', lambda: describe_vol(vol), lambda a: items(a, 'volumeSet')[0]['status'] == 'available')
    emit('volume-available', volumeId=vol, polls=polls)

    state['at'] = 'describe-volume-by-id'
    got = items(answer, 'volumeSet')
    check(len(got) == 1 and got[0]['volumeId'] == vol, 'DescribeVolumes by ID: %r' % got)
    emit('describe-volume-by-id', volumeIds=[v['volumeId'] for v in got], size=got[0]['size'], status=got[0]['status'],
         zone=got[0]['availabilityZone'], attachments=len(items(got[0], 'attachmentSet')))
    check(got[0]['size'] == '1' and got[0]['availabilityZone'] == ZONE, 'volume fields %r' % got[0])

    state['at'] = 'describe-volume-by-filter'
    by_filter = plain(svc.DescribeVolumes(volumeSet={}, filterSet=filters(status='available', volume_id=vol, size='1')))
    ids = [v['volumeId'] for v in items(by_filter, 'volumeSet')]
    emit('describe-volume-by-filter', volumeIds=ids)
    check(ids == [vol], 'filter status=available,volume-id,size=1 gave %r' % ids)
    none = plain(svc.DescribeVolumes(volumeSet={}, filterSet=filters(volume_id=vol, size='2')))
    emit('describe-volume-by-filter-nomatch', volumeIds=[v['volumeId'] for v in items(none, 'volumeSet')])
    check(items(none, 'volumeSet') == [], 'filter size=2 matched the 1 GiB volume')

    state['at'] = 'attach-unknown-instance'
    f = fault_of(svc.AttachVolume, volumeId=vol, instanceId=UNKNOWN_INSTANCE, device='/dev/sdf')
    emit('attach-unknown-instance', **f)
    check_clean_fault(f, 'soap:Client.InvalidInstanceID.NotFound', 'InvalidInstanceID.NotFound')

    state['at'] = 'detach-unattached'
    f = fault_of(svc.DetachVolume, volumeId=vol)
    emit('detach-unattached', **f)
    check_clean_fault(f, 'soap:Client.IncorrectState', 'IncorrectState')

    state['at'] = 'create-snapshot'
    snap_answer = plain(svc.CreateSnapshot(volumeId=vol, description='zeep interop'))
    snap = snap_answer['snapshotId']
    emit('create-snapshot', snapshotId=snap, volumeId=snap_answer['volumeId'], status=snap_answer['status'],
         progress=snap_answer['progress'], volumeSize=snap_answer['volumeSize'], description=snap_answer.get('description'))
    check(snap.startswith('snap-') and snap_answer['volumeId'] == vol, 'bad CreateSnapshot answer %r' % snap_answer)
    check(snap_answer['status'] in ('pending', 'completed'), 'snapshot status %r' % snap_answer['status'])

    state['at'] = 'snapshot-completed'
    describe_snap = lambda s: plain(svc.DescribeSnapshots(snapshotSet={'item': [{'snapshotId': s}]}))
    answer, polls = until('snapshot completed', lambda: describe_snap(snap), lambda a: items(a, 'snapshotSet')[0]['status'] in ('completed', 'error'))
    got = items(answer, 'snapshotSet')
    emit('snapshot-completed', snapshotId=got[0]['snapshotId'], status=got[0]['status'], progress=got[0]['progress'],
         volumeId=got[0]['volumeId'], volumeSize=got[0]['volumeSize'], description=got[0].get('description'), polls=polls)
    check(got[0]['status'] == 'completed' and got[0]['progress'] == '100%', 'snapshot ended %r' % got[0])
    check(len(got) == 1 and got[0]['snapshotId'] == snap and got[0]['volumeSize'] == '1', 'DescribeSnapshots by ID: %r' % got)
    check(got[0].get('description') == 'zeep interop', 'description %r' % got[0].get('description'))

    state['at'] = 'describe-snapshot-by-filter'
    by_filter = plain(svc.DescribeSnapshots(snapshotSet={}, filterSet=filters(snapshot_id=snap, volume_id=vol, status='completed')))
    ids = [s['snapshotId'] for s in items(by_filter, 'snapshotSet')]
    emit('describe-snapshot-by-filter', snapshotIds=ids)
    check(ids == [snap], 'filter snapshot-id,volume-id,status=completed gave %r' % ids)

    state['at'] = 'create-volume-from-snapshot'
    restored = plain(svc.CreateVolume(size='2', snapshotId=snap, availabilityZone=ZONE))
    vol2 = restored['volumeId']
    emit('create-volume-from-snapshot', volumeId=vol2, size=restored['size'], snapshotId=restored['snapshotId'], status=restored['status'])
    check(vol2.startswith('vol-') and vol2 != vol, 'bad volume ID %r' % vol2)
    check(restored['size'] == '2' and restored['snapshotId'] == snap, 'CreateVolume from snapshot answered %r' % restored)

    state['at'] = 'restored-volume-available'
    answer, polls = until('restored volume available', lambda: describe_vol(vol2), lambda a: items(a, 'volumeSet')[0]['status'] in ('available', 'error'))
    got = items(answer, 'volumeSet')[0]
    emit('restored-volume-available', volumeId=got['volumeId'], size=got['size'], snapshotId=got['snapshotId'], status=got['status'], polls=polls)
    check(got['status'] == 'available' and got['size'] == '2' and got['snapshotId'] == snap, 'restored volume %r' % got)
    from_snap = plain(svc.DescribeVolumes(volumeSet={}, filterSet=filters(snapshot_id=snap)))
    ids = [v['volumeId'] for v in items(from_snap, 'volumeSet')]
    emit('describe-volume-by-snapshot-filter', volumeIds=ids)
    check(ids == [vol2], 'filter snapshot-id gave %r' % ids)

    state['at'] = 'delete-snapshot'
    deleted = plain(svc.DeleteSnapshot(snapshotId=snap))
    emit('delete-snapshot', snapshotId=snap, ret=deleted['return'])
    check(deleted['return'] is True, 'DeleteSnapshot returned %r' % deleted)
    f = fault_of(svc.DescribeSnapshots, snapshotSet={'item': [{'snapshotId': snap}]})
    emit('snapshot-gone', snapshotId=snap, **f)
    check_clean_fault(f, 'soap:Client.InvalidSnapshot.NotFound', 'InvalidSnapshot.NotFound')

    state['at'] = 'delete-volumes'
    for v in (vol2, vol):
        deleted = plain(svc.DeleteVolume(volumeId=v))
        emit('delete-volume', volumeId=v, ret=deleted['return'])
        check(deleted['return'] is True, 'DeleteVolume returned %r' % deleted)
    for v in (vol, vol2):
        f = fault_of(svc.DescribeVolumes, volumeSet={'item': [{'volumeId': v}]})
        emit('volume-gone', volumeId=v, **f)
        check_clean_fault(f, 'soap:Client.InvalidVolume.NotFound', 'InvalidVolume.NotFound')
    listed = [v['volumeId'] for v in items(plain(svc.DescribeVolumes(volumeSet={})), 'volumeSet')]
    emit('volumes-listed-after-delete', volumeIds=listed)
    check(vol not in listed and vol2 not in listed, 'deleted volumes still listed: %r' % listed)

    state['at'] = 'unknown-volume-fault'
    f = fault_of(svc.DescribeVolumes, volumeSet={'item': [{'volumeId': UNKNOWN_VOLUME}]})
    emit('unknown-volume-fault', **f)
    check_clean_fault(f, 'soap:Client.InvalidVolume.NotFound', 'InvalidVolume.NotFound')
    check(UNKNOWN_VOLUME in (f['faultstring'] or ''), 'faultstring does not name the volume: %r' % f['faultstring'])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('url')
    parser.add_argument('ca')
    parser.add_argument('key')
    parser.add_argument('cert')
    parser.add_argument('server_cert')
    parser.add_argument('--ec2-wsdl')
    parser.add_argument('--lax', action='store_true')
    args = parser.parse_args()
    state = {'at': 'client'}
    started = time.monotonic()
    wsse = CountingSigning(args.key, args.cert, args.server_cert)
    try:
        svc = build_service(args, wsse)
        lifecycle(svc, state)
    except Exception as error:  # every surprise, ours or zeep's, ends the run with its exact text
        emit('failed', at=state['at'], error=type(error).__module__ + '.' + type(error).__name__, message=str(error),
             signed=wsse.signed, verified=wsse.verified)
        return 1
    emit('done', zeep=zeep.__version__, seconds=round(time.monotonic() - started, 3), signed=wsse.signed, verified=wsse.verified)
    return 0


if __name__ == '__main__':
    sys.exit(main())
