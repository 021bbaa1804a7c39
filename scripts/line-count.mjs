// Line counter (`npm run sz`): lines of TypeScript per folder of src/ that are neither blank nor
// comment-only, and a total. No dependencies. `node scripts/line-count.mjs [dir] [--files]`
// counts another directory, and --files also lists every file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, sep } from 'node:path';

const args = process.argv.slice(2);
const showFiles = args.includes('--files');
const root = args.find((a) => !a.startsWith('--')) ?? 'src';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * Counts the lines that hold code: anything other than whitespace outside comments. A small scanner
 * keeps track of block comments and of string and template literals (so that '//' or '/*' inside a
 * string is not taken for a comment). Regular-expression literals are not recognised; one holding
 * a quote or a comment opener could miscount a line.
 */
function countCodeLines(text) {
  let count = 0;
  let inBlock = false; // inside /* ... */
  let quote = null; // the open string delimiter: ', " or `
  for (const line of text.split(/\r?\n/)) {
    let code = quote === '`' && line.trim() !== ''; // a line inside a multi-line template is code
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (inBlock) {
        if (c === '*' && line[i + 1] === '/') {
          inBlock = false;
          i++;
        }
      } else if (quote !== null) {
        code = true;
        if (c === '\\') i++;
        else if (c === quote) quote = null;
      } else if (c === '/' && line[i + 1] === '/') {
        break;
      } else if (c === '/' && line[i + 1] === '*') {
        inBlock = true;
        i++;
      } else if (c === "'" || c === '"' || c === '`') {
        quote = c;
        code = true;
      } else if (c !== ' ' && c !== '\t') {
        code = true;
      }
    }
    if (quote === "'" || quote === '"') quote = null; // such strings cannot span lines
    if (code) count++;
  }
  return count;
}

const byFolder = new Map();
const perFile = [];
for (const file of walk(root)) {
  const n = countCodeLines(readFileSync(file, 'utf8'));
  const folder = dirname(relative(root, file)).split(sep).join('/');
  const entry = byFolder.get(folder) ?? { files: 0, lines: 0 };
  entry.files++;
  entry.lines += n;
  byFolder.set(folder, entry);
  perFile.push([relative(root, file).split(sep).join('/'), n]);
}

const label = (folder) => (folder === '.' ? '(top level)' : folder);
const folders = [...byFolder.keys()].sort((a, b) =>
  a === '.' ? -1 : b === '.' ? 1 : a.localeCompare(b),
);
const width = Math.max(20, ...folders.map((f) => label(f).length + 2));
let totalFiles = 0;
let totalLines = 0;
console.log(`${`${root}/`.padEnd(width)}${'files'.padStart(7)}${'lines'.padStart(9)}`);
for (const f of folders) {
  const { files, lines } = byFolder.get(f);
  totalFiles += files;
  totalLines += lines;
  console.log(`${label(f).padEnd(width)}${String(files).padStart(7)}${String(lines).padStart(9)}`);
}
console.log('-'.repeat(width + 16));
console.log(
  `${'total'.padEnd(width)}${String(totalFiles).padStart(7)}${String(totalLines).padStart(9)}`,
);
console.log('(lines: TypeScript lines that are neither blank nor comment-only)');
if (showFiles) {
  console.log('');
  for (const [file, n] of perFile) console.log(`${String(n).padStart(6)}  ${file}`);
}
