/**
 * One walk over the whole parsed request that gathers what the verifier must know about all of it,
 * not only about the parts it expects: every Id (an Id that occurs twice is how signature wrapping
 * makes a Reference point at one element while the service reads another), and how many ds:Signature
 * and wsse:Security elements there are anywhere (a second one hidden in the Body or another header
 * must not be mistaken for, or stand beside, the one that is checked).
 */
import type { Attr, Document, Element, Node } from '@xmldom/xmldom';
import { DS_NS, WSSE_NS, WSU_NS, XML_NS } from './names.js';

export interface DocumentIndex {
  /** Elements by the Id a Reference may name: `wsu:Id` or an unqualified `Id`. */
  readonly referable: ReadonlyMap<string, Element>;
  /** True when an Id value occurs twice, in any Id-like attribute (Id, ID, id, wsu:Id, xml:id). */
  readonly duplicateId: boolean;
  readonly signatures: number;
  readonly securityHeaders: number;
}

/** Attributes that some XML signature implementation treats as an Id: all count for duplicates. */
function idKind(a: Attr): 'referable' | 'other' | undefined {
  const ns = a.namespaceURI;
  const name = a.localName ?? a.name;
  if (!ns) {
    if (name === 'Id') return 'referable';
    return name === 'ID' || name === 'id' ? 'other' : undefined;
  }
  if (ns === WSU_NS) return name === 'Id' ? 'referable' : undefined;
  if (ns === XML_NS) return name === 'id' ? 'other' : undefined;
  return undefined;
}

export function indexDocument(document: Document): DocumentIndex {
  const referable = new Map<string, Element>();
  const seen = new Set<string>();
  let duplicateId = false;
  let signatures = 0;
  let securityHeaders = 0;
  const root = document.documentElement;
  let node: Node | null = root;
  while (node) {
    if (node.nodeType === 1) {
      const el = node as Element;
      if (el.namespaceURI === DS_NS && el.localName === 'Signature') signatures++;
      else if (el.namespaceURI === WSSE_NS && el.localName === 'Security') securityHeaders++;
      const list = el.attributes;
      for (let i = 0; i < list.length; i++) {
        const a = list.item(i) as Attr;
        const kind = idKind(a);
        if (kind === undefined) continue;
        if (seen.has(a.value)) duplicateId = true;
        seen.add(a.value);
        if (kind === 'referable') referable.set(a.value, el);
      }
      if (el.firstChild) {
        node = el.firstChild;
        continue;
      }
    }
    while (node && node !== root && !node.nextSibling) node = node.parentNode;
    node = node && node !== root ? node.nextSibling : null;
  }
  return { referable, duplicateId, signatures, securityHeaders };
}
