/**
 * The part of the proposed ECMAScript "Reflect metadata" API that `@peculiar/x509` needs.
 *
 * `@peculiar/x509` registers its algorithm providers with the `tsyringe` container, and `tsyringe`
 * refuses to load unless `Reflect.getMetadata` exists (it normally comes from the
 * `reflect-metadata` package, which this project does not depend on). tsyringe only reads
 * constructor parameter types and its own injection tokens through `getMetadata`,
 * `getOwnMetadata` and `defineMetadata`; those three are provided here, backed by a WeakMap, and
 * only when no polyfill is installed already. Importing this module has that one effect.
 */

type MetadataKey = unknown;
type Target = object;

interface ReflectMetadata {
  getMetadata?(key: MetadataKey, target: Target, property?: PropertyKey): unknown;
  getOwnMetadata?(key: MetadataKey, target: Target, property?: PropertyKey): unknown;
  defineMetadata?(key: MetadataKey, value: unknown, target: Target, property?: PropertyKey): void;
}

const reflect = Reflect as typeof Reflect & ReflectMetadata;

if (typeof reflect.getMetadata !== 'function') {
  /** target → property (or undefined for the target itself) → key → value. */
  const store = new WeakMap<Target, Map<PropertyKey | undefined, Map<MetadataKey, unknown>>>();

  const own = (target: Target, property: PropertyKey | undefined, create: boolean): Map<MetadataKey, unknown> | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let byKey = byProperty.get(property);
    if (!byKey && create) {
      byKey = new Map();
      byProperty.set(property, byKey);
    }
    return byKey;
  };

  reflect.defineMetadata = (key, value, target, property) => {
    own(target, property, true)!.set(key, value);
  };
  reflect.getOwnMetadata = (key, target, property) => own(target, property, false)?.get(key);
  reflect.getMetadata = (key, target, property) => {
    // Walk the prototype chain, as the proposal specifies for inherited metadata.
    for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t) as Target | null) {
      const map = own(t, property, false);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  };
}

export {};
