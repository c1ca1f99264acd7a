/**
 * Plain aligned tables for the terminal: a header row and one row per resource, columns padded to
 * their widest cell, empty cells shown as '-' so that every row splits into the same columns.
 */

export interface Column<R> {
  readonly header: string;
  readonly cell: (row: R) => string;
}

const GAP = '  ';

export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[]): string {
  const cells = rows.map((r) => columns.map((c) => cleanCell(c.cell(r))));
  const headers = columns.map((c) => c.header);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join(GAP)
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** One cell on one line: control characters from the server never reach the terminal. */
function cleanCell(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a table cell must not print
  const flat = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat === '' ? '-' : flat;
}
