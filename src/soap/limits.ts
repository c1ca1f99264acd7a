/**
 * The limits every VBS HTTPS service puts on its clients, in one place: what a connection, a request
 * and a request's XML may cost before anyone is authenticated. Each is far beyond what a busy, honest
 * client needs (the SoapClient, the CLI, node-soap and zeep send a whole request at once, and open at
 * most 64 connections), and each stops what an abusive client does: trickle, stall, hold connections
 * open, or send XML that is cheap to write and dear to parse. docs/security.md ("Connection and
 * request limits") lists them.
 *
 * The connection limits hold per process: a frontend with N workers accepts N times as many
 * connections, as the primary hands each new connection to the next worker in turn.
 */

/** A TLS handshake must be done by then (Node's default is 120 s): a silent or stalled TCP connection is closed. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * A request's headers must have arrived this long after it began (its first byte; on a new
 * connection, TLS being up). Honest clients send them in one write; Node's default is 60 s.
 */
export const HEADERS_TIMEOUT_MS = 5_000;

/** Once the headers are in, a body that stops sending for this long is abandoned (Node has no such limit). */
export const BODY_IDLE_TIMEOUT_MS = 5_000;

/**
 * A whole request (headers and body) must have arrived by then, however steadily it trickles (Node's
 * default: 300 s). The largest body (MAX_BODY_BYTES) fits at 70 KB/s; what the service then does has
 * no such bound (an AttachVolume may wait 30 s for its node).
 */
export const REQUEST_DEADLINE_MS = 15_000;

/**
 * How often Node checks the two deadlines above: the granularity of each (Node's default is 30 s,
 * which would let a header trickle run 35 s). A pass over the open connections costs microseconds.
 */
export const DEADLINE_CHECK_INTERVAL_MS = 500;

/**
 * A keep-alive connection with no request is closed after this long (Node then adds a second of
 * grace). Clients reconnect at the cost of one handshake; Node's clients are told by the Keep-Alive
 * header and close first.
 */
export const KEEP_ALIVE_IDLE_MS = 5_000;

/**
 * Connections from one client address not yet answered once: in their TLS handshake, or sending
 * their first request (src/soap/connection-caps.ts). Pooled keep-alive connections, once answered,
 * do not count, so that busy clients behind one address never meet it; four SoapClients opening
 * all their 64 connections at once would not either. One address alone cannot hold more than an
 * eighth of MAX_CONNECTIONS with slow connections. Beyond it a new connection is closed at once.
 */
export const MAX_CONNECTIONS_PER_CLIENT = 256;

/**
 * Open connections in all: what keeps the process within its file descriptors (Node raises the soft
 * limit to the hard one, rarely under 4096) and its memory (a TLS connection holds some tens of KB),
 * with room left for the store, the trust store and calls to the delegates. Beyond it a new
 * connection is closed at once.
 */
export const MAX_CONNECTIONS = 2_048;

/**
 * Requests one connection may have unanswered at once (HTTP pipelining; no VBS, Node, zeep or
 * node-soap client pipelines at all). Node runs every pipelined request at once, so without this one
 * connection would be as many concurrent requests as it can send. Beyond it the answer is 503 and the
 * connection is closed after the answers before it, without the request being run.
 */
export const MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION = 4;

/** A request body over this is refused (413) before it is read. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Element nesting in a request. The deepest a VBS or EC2 request goes is 9 (a signature's
 * InclusiveNamespaces: Envelope/Header/Security/Signature/SignedInfo/Reference/Transforms/Transform);
 * nesting is what makes a DOM dear to build and to walk recursively.
 */
export const MAX_XML_DEPTH = 32;

/**
 * Markup in a request: elements, attributes, comments, processing instructions, CDATA sections and
 * entity or character references, each one. xmldom spends 2 to 5 µs on each, so this bounds the
 * parse before authentication to some tens of ms. The largest honest requests are a Describe* at
 * every filter cap (about 8,100) and a hypervisor node registering 200 instances with 4 disks each
 * (about 6,500).
 */
export const MAX_XML_NODES = 10_000;

/**
 * What a SoapClient reads of an answer before giving up: a DescribeVolumes of some 25,000 volumes.
 * The peer chooses the size, and the whole answer is parsed in memory.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
