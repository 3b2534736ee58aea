import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

/**
 * The image installs production dependencies only (`npm ci --omit=dev`) and runs what
 * `npm run build` compiles: every package that compiled code loads must be a production
 * dependency, and the sandbox and dev servers (whose packages are devDependencies) are not built.
 */

const ROOT = path.resolve(__dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function builtFiles(): string[] {
  const configPath = path.join(ROOT, 'tsconfig.build.json');
  const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, configPath).fileNames;
}

/** The packages a file loads at run time, as tsc emits it (type-only imports are gone). */
function packagesLoadedBy(file: string): string[] {
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: file,
  });
  return [...outputText.matchAll(/require\("([^"]+)"\)/g)]
    .map((m) => m[1]!)
    .filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:') && !builtinModules.includes(spec.split('/')[0]!))
    .map((spec) =>
      spec
        .split('/')
        .slice(0, spec.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

describe('what the image runs', () => {
  const files = builtFiles().map((f) => path.relative(ROOT, f));

  it('builds the ingress, the worker and the ops CLI, but not the sandbox or the dev servers', () => {
    expect(files).toEqual(expect.arrayContaining(['src/bin/ingress.ts', 'src/bin/worker.ts', 'src/bin/ops.ts']));
    expect(files.filter((f) => /^src\/(sandbox|dev)\/|^src\/bin\/(local|sandbox|demo)\.ts$/.test(f))).toEqual([]);
  });

  it('loads only production dependencies', () => {
    const notInstalled = files.flatMap((file) =>
      packagesLoadedBy(path.join(ROOT, file))
        .filter((name) => !(name in pkg.dependencies))
        .map((name) => `${file} -> ${name}${name in pkg.devDependencies ? ' (a devDependency)' : ''}`),
    );
    expect(notInstalled).toEqual([]);
  });
});
