// One ESLint config for the monorepo. The architecture is lint errors, not conventions:
// - @nx/enforce-module-boundaries: an app imports libraries only (never another app); tooling and test libraries never
//   reach production code;
// - each app imports only the contracts of the services its declaration (apps/<name>/service.json) says it calls, and
//   the declarations themselves keep the layering (a leaf calls nothing, a composite only leaves; nothing calls the edge);
// - domain code (apps/*/src/domain) imports no Nest, gRPC or runtime kit: only @strata/domain-errors and contract types.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Every app's declaration, read directly (lint runs before anything is built). */
const apps = join(import.meta.dirname, 'apps');
const declarations = readdirSync(apps, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(apps, entry.name, 'service.json')))
  .map((entry) => JSON.parse(readFileSync(join(apps, entry.name, 'service.json'), 'utf8')));

/** The contract folder of a service (order-history → order_history), where its .proto files are; none for the edge. */
const contractFolder = (d) => {
  const folder = d.name.replace(/-/g, '_');
  return existsSync(join(import.meta.dirname, 'proto', 'strata', folder)) ? folder : undefined;
};

/** Per app: the contracts (and their rules) of services it does not declare a call to are off limits. */
const contractBoundaries = declarations.map((d) => {
  const others = declarations.filter((o) => o.name !== d.name && contractFolder(o) && !(d.calls ?? []).includes(o.name));
  return {
    files: [`apps/${d.name}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: others.map((o) => ({
            group: [`@strata/contracts/${contractFolder(o)}/*`, `@strata/contract-rules/${contractFolder(o)}/*`],
            message: `${d.name} (${d.layer}) does not call ${o.name} (${o.layer}). Declare the call in apps/${d.name}/service.json ("calls") if the layering allows it: a leaf calls nothing, a composite calls only leaves, nothing calls the edge.`,
          })),
        },
      ],
    },
  };
});

/** What domain code may not load: frameworks, transports, the runtime kit, drivers, test helpers. */
const RUNTIME_IMPORTS = [
  '@nestjs/*',
  '@grpc/*',
  '@strata/service-kit',
  '@strata/service-kit/*',
  '@strata/dev-kit',
  'pg',
  'pino',
  'prom-client',
  'fastify',
  'rxjs',
  'grpc-health-check',
];

export default [
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'libs/contracts/src/**',
      '.nx/**',
      '.strata/**',
      'tools/workspace-plugin/src/**/files/**',
    ],
  },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'], notDependOnLibsWithTags: ['scope:tooling'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
          ],
        },
      ],
    },
  },
  ...tseslint.configs.recommended.map((c) => ({ ...c, files: ['**/*.ts'] })),
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // Indexed access after a length or membership check is the common case here.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...contractBoundaries,
  {
    // Development helpers stay out of production code: only specs (and tools) may use the dev kit.
    files: ['apps/*/src/**/*.ts', 'libs/service-kit/src/**/*.ts', 'libs/domain-errors/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: '@strata/dev-kit', message: 'The dev kit is for specs and tools; production code never ships it.' }] },
      ],
    },
  },
  {
    // A gRPC controller's handler names what Nest gives it: its request, with @Payload(). Without a parameter decorator
    // Nest extracts its three default arguments (request, metadata, call) through its pipes on every call: 1.8 KB and
    // about 1 µs more per call (docs/performance.md, "Nest's default arguments").
    files: ['apps/*/src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'ClassDeclaration:has(Decorator > CallExpression[callee.name=/ServiceControllerMethods$/]) > ClassBody > MethodDefinition[kind="method"] > FunctionExpression > Identifier:first-child:not([decorators.length>0])',
          message:
            'A gRPC handler takes its request with @Payload() (and @Ctx() for the metadata): without a parameter decorator Nest extracts request, metadata and call through its pipes on every call (docs/performance.md, "Nest\'s default arguments").',
        },
      ],
    },
  },
  {
    // Domain code is plain TypeScript: its tests need no server, and it loads no framework.
    files: ['apps/*/src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: RUNTIME_IMPORTS,
              message:
                'Domain code (src/domain) imports no Nest, gRPC, runtime kit, driver or dev kit: throw errors from @strata/domain-errors and let the handlers translate.',
            },
            {
              group: ['@strata/contracts/*'],
              allowTypeImports: true,
              message: "Domain code uses the contracts' types only (`import type`): their values load Nest's decorators.",
            },
          ],
        },
      ],
    },
  },
  // Formatting is Prettier's job (`prettier --check` in every lint target): no stylistic ESLint rules.
  prettier,
];
