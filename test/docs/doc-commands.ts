import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import MarkdownIt from 'markdown-it';

export const ROOT = path.resolve(__dirname, '../..');

/** A shell command as the docs show it: a fenced `sh` block, or an inline code span that runs something. */
export interface DocCommand {
  /** e.g. `docs/OPERATIONS.md` */
  file: string;
  kind: 'block' | 'inline';
  /** The whole text, as a reader would paste it. */
  text: string;
  /** How the tests name it: the first line. */
  key: string;
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console']);
/** Inline code that runs a program, as opposed to names such as `temporal-ui` or `temporal:7233`. */
const INLINE_COMMAND = /^(npm|npx|node|curl|temporal|docker|openssl|jq|bash|set -a|cp|scripts\/)[\s;]/;

const markdown = new MarkdownIt();

export function docFiles(): string[] {
  return [
    'README.md',
    ...readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
}

/** Every command in the README and docs/, parsed as Markdown (code in lists and tables included). */
export function docCommands(): DocCommand[] {
  const commands: DocCommand[] = [];
  for (const file of docFiles()) {
    const tokens = markdown.parse(readFileSync(path.join(ROOT, file), 'utf8'), {});
    for (const token of tokens) {
      if (token.type === 'fence') {
        const lang = token.info.trim().split(/\s+/)[0]!;
        const text = token.content.replace(/\n$/, '');
        if (SHELL_LANGS.has(lang)) commands.push({ file, kind: 'block', text, key: text.split('\n')[0]!.trim() });
      }
      // Inline code, in paragraphs, lists and table cells alike.
      for (const child of token.children ?? []) {
        if (child.type === 'code_inline' && INLINE_COMMAND.test(child.content))
          commands.push({ file, kind: 'inline', text: child.content, key: child.content });
      }
    }
  }
  return commands;
}

/** The one command with this key; fails when the docs no longer show it. */
export function docCommand(key: string): DocCommand {
  const found = docCommands().filter((c) => c.key === key);
  if (found.length === 0) throw new Error(`the docs no longer contain a command starting "${key}"`);
  // An inline mention of a block's first line is that block's command.
  const blocks = new Set(found.filter((c) => c.kind === 'block').map((c) => c.text));
  const texts = blocks.size ? blocks : new Set(found.map((c) => c.text));
  if (texts.size > 1) throw new Error(`"${key}" starts ${texts.size} different commands in the docs: give each its own first line`);
  return found.find((c) => texts.has(c.text))!;
}
