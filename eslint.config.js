import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Hono is Web-standard and allowed; these are not.
const nodeOnly = ['node:*', 'express', 'better-sqlite3', 'ioredis', 'pg']

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'bench/**/*.mjs',
      'test/conformance/runner/*.mjs',
      'eslint.config.js',
      '.dependency-cruiser.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The core speaks Web standards only: Node-only code lives in adapters, storage backends, cli, dev.
    files: [
      'src/index.ts',
      'src/errors.ts',
      'src/obo-error.ts',
      'src/config/**',
      'src/http/**',
      'src/oauth/**',
      'src/contract/**',
      'src/grants/**',
      'src/tokens/**',
      'src/jwt/**',
      'src/resource/**',
      'src/providers/**',
      'src/storage/store.ts',
      'src/storage/memory.ts',
      'src/storage/encrypted.ts',
      'src/storage/value-cipher.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: nodeOnly.map((group) => ({
            group: [group],
            message: 'core code must stay runtime-neutral',
          })),
        },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      // Tests read JSON bodies (any) on purpose and assert their shape.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
)
