// Lint rules: typescript-eslint's recommended set, plus the project rule that ABI numbers live in
// src/abi/ only. A hex literal of three or more digits anywhere else in src/ is almost always a
// leaf number, status code, field id or layout offset that belongs in the tables.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'web/dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/abi/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Literal[raw=/^0[xX][0-9a-fA-F_]{3,}n?$/]',
          message: 'ABI numbers live in src/abi/: name this value there and import it.',
        },
      ],
    },
  },
);
