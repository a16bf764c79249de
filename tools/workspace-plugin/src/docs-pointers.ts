import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** A pointer from a file of the tree into a document of docs/: the file, the line, the document and the sections. */
export interface DocsPointer {
  from: string;
  line: number;
  doc: string;
  /** Section numbers ("§18", "(9 and 17)") and titles ('"Nest as Nest"') the pointer names. */
  numbers: number[];
  titles: string[];
}

const ROOTS = ['apps', 'libs', 'tools', 'loadtests', 'k8s', 'proto', 'README.md', 'docs'];
const SOURCE = /\.(ts|js|sh|ya?ml|proto|md)$/;
const SKIP = /(^|\/)(node_modules|dist|\.nx)(\/|$)|\.template$/;

/** Every file of the tree that can point into docs/. */
export function pointerFiles(repoRoot: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = join(repoRoot, rel);
    if (SKIP.test(rel) || !existsSync(abs)) return;
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = `${rel}/${entry.name}`;
      if (SKIP.test(path)) continue;
      if (entry.isDirectory()) walk(path);
      else if (SOURCE.test(entry.name)) out.push(path);
    }
  };
  for (const root of ROOTS) {
    if (root.endsWith('.md')) out.push(root);
    else walk(root);
  }
  return out;
}

/**
 * The pointers of one file's text. Forms in use: `docs/architecture.md §18`, `(docs/architecture.md, §17 "Save and
 * roll")`, `(docs/architecture.md, "Nest as Nest")`, `see docs/architecture.md (§9, "…")`, and in Markdown a link
 * to architecture.md followed by `(12)`, `(9 and 17)` or `, 19`.
 */
export function pointersIn(from: string, text: string): DocsPointer[] {
  const out: DocsPointer[] = [];
  const pattern =
    /(?:docs\/|\]\((?:\.\.\/)*(?:docs\/)?)(architecture|performance|reliability)\.md(?!\]\()\)?((?:[\s,(]*(?:§\s*\d+|"[^"\n]{3,60}"|\(\d+(?:(?:,| and) \d+)*\)|, \d+\b))*)/g;
  for (const m of text.matchAll(pattern)) {
    const tail = m[2] ?? '';
    const numbers = [...tail.matchAll(/§\s*(\d+)|\((\d+(?:(?:,| and) \d+)*)\)|, (\d+)\b/g)].flatMap((n) =>
      (n[1] ?? n[2] ?? n[3] ?? '').split(/,| and /).map((x) => Number(x.trim())),
    );
    const titles = [...tail.matchAll(/"([^"\n]+)"/g)].map((t) => t[1]!);
    out.push({ from, line: text.slice(0, m.index).split('\n').length, doc: `docs/${m[1]}.md`, numbers, titles });
  }
  return out;
}

/** The numbered sections of a document: `## 18. Nest as Nest: …` → 18 → "Nest as Nest: …". */
export function sectionsOf(text: string): Map<number, string> {
  return new Map([...text.matchAll(/^##+ (\d+)\. (.+)$/gm)].map((m) => [Number(m[1]), m[2]!]));
}

/** What does not resolve: a missing document, a section number it does not have, a title no section starts with. */
export function brokenPointers(repoRoot: string): string[] {
  const problems: string[] = [];
  const docs = new Map<string, { sections: Map<number, string>; headings: string[] } | undefined>();
  for (const file of pointerFiles(repoRoot)) {
    for (const p of pointersIn(file, readFileSync(join(repoRoot, file), 'utf8'))) {
      if (!docs.has(p.doc)) {
        const path = join(repoRoot, p.doc);
        const text = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
        docs.set(
          p.doc,
          text === undefined ? undefined : { sections: sectionsOf(text), headings: [...text.matchAll(/^#+ (.+)$/gm)].map((h) => h[1]!) },
        );
      }
      const doc = docs.get(p.doc);
      const at = `${relative(repoRoot, join(repoRoot, p.from))}:${p.line}`;
      if (!doc) {
        problems.push(`${at}: ${p.doc} does not exist`);
        continue;
      }
      for (const n of p.numbers) if (!doc.sections.has(n)) problems.push(`${at}: ${p.doc} has no section ${n}`);
      for (const t of p.titles)
        if (
          !doc.headings.some((h) =>
            h
              .replace(/^\d+\. /, '')
              .toLowerCase()
              .startsWith(t.toLowerCase()),
          )
        )
          problems.push(`${at}: ${p.doc} has no section "${t}"`);
    }
  }
  return problems;
}

/**
 * Paths a README or document names in backticks (`src/domain/order-model.ts`, `k8s/base/catalog/`) that exist neither
 * beside it nor from the repository's root. Placeholders (`<service>`, `*`) are not paths.
 */
export function missingPaths(repoRoot: string): string[] {
  const problems: string[] = [];
  for (const file of pointerFiles(repoRoot).filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    for (const m of text.matchAll(/`((?:src|apps|libs|tools|loadtests|k8s|docs|proto)\/[\w./-]+)`/g)) {
      const path = m[1]!;
      const beside = join(repoRoot, file, '..', path);
      if (!existsSync(beside) && !existsSync(join(repoRoot, path)))
        problems.push(`${file}:${text.slice(0, m.index).split('\n').length}: ${path} does not exist`);
    }
  }
  return problems;
}
