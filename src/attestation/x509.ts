/**
 * `@peculiar/x509`, ready to use: every attestation module imports X.509 from here.
 *
 * Two set-up steps must run before the library is used: the Reflect metadata functions its
 * dependency injection needs (the reflect-metadata package; this import must stay first so it is
 * evaluated before the library), and node:crypto's WebCrypto as the library's crypto provider.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { cryptoProvider } from '@peculiar/x509';

cryptoProvider.set(webcrypto);

export * from '@peculiar/x509';
