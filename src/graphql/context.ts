/**
 * The per-request GraphQL context: the services every resolver calls (the same ones the REST
 * adapters call), and the caller, authenticated lazily so `_service` and introspection need no key.
 */
import type { Principal } from "../auth/principal.js";
import type { AppDeps } from "../deps.js";
import type { Loaders } from "./loaders.js";

export interface GraphQLContext {
  deps: AppDeps;
  /** Resolves (once per request) the key presented, or throws UNAUTHENTICATED. */
  principal(): Promise<Principal>;
  requestId: string;
  /** Per-request batching of entity references and per-entity usage fields. */
  loaders: Loaders;
}

/** An entity this subgraph knows by id only (Organization, User): its usage fields resolve from the id. */
export interface EntityRef {
  id: string;
}
