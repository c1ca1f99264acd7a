/**
 * An ESLint rule that keeps the dependency direction of docs/architecture.md: each layer names the
 * folders, files and packages it may import (`may`), or those it must not (`mayNot`). Every layer
 * whose `files` prefix matches a file applies to it. Relative specifiers are resolved against the
 * importing file, so that `../../soap/server.js` is checked as src/soap/server.ts wherever it is
 * written; a package is matched by its name (`node:fs` also covers `node:fs/promises`).
 *
 * Why our own rule rather than eslint-plugin-boundaries or import/no-restricted-paths: those need an
 * import resolver to map our `.js` specifiers to `.ts` files (another plugin), and their element
 * types would restate this table in another vocabulary; this is the table itself, in 80 lines.
 */
import { posix, relative, sep } from 'node:path';

/** `target` is a repository path (src/x/y.ts) or a package name; `entry` a folder (ending in /), a file or a package. */
function covers(entry, target) {
  if (entry.endsWith('/')) return target.startsWith(entry);
  return target === entry || target.startsWith(`${entry}/`);
}

function resolveSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('.')) return specifier;
  const joined = posix.normalize(posix.join(posix.dirname(fromFile), specifier));
  return joined.replace(/\.js$/, '.ts');
}

/** @type {import('eslint').Rule.RuleModule} */
export const layeringRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports follow the dependency direction of docs/architecture.md' },
    schema: [
      {
        type: 'object',
        properties: {
          root: { type: 'string' },
          layers: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                files: { type: 'string' },
                may: { type: 'array', items: { type: 'string' } },
                mayNot: { type: 'array', items: { type: 'string' } },
                why: { type: 'string' },
              },
              required: ['files', 'why'],
              additionalProperties: false,
            },
          },
        },
        required: ['root', 'layers'],
        additionalProperties: false,
      },
    ],
    messages: { forbidden: '{{file}} may not import {{target}}: {{why}}.' },
  },
  create(context) {
    const [{ root, layers }] = context.options;
    const file = relative(root, context.filename).split(sep).join('/');
    if (file.startsWith('..')) return {};
    const applying = layers.filter((l) => file.startsWith(l.files));
    if (applying.length === 0) return {};
    const check = (node, source) => {
      if (!source || typeof source.value !== 'string') return;
      const target = resolveSpecifier(file, source.value);
      for (const layer of applying) {
        const allowed = layer.may
          ? layer.may.some((e) => covers(e, target))
          : !(layer.mayNot ?? []).some((e) => covers(e, target));
        if (!allowed) {
          context.report({ node, messageId: 'forbidden', data: { file, target, why: layer.why } });
          return;
        }
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source : undefined),
    };
  },
};
