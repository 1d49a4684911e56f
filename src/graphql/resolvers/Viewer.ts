import type { ViewerResolvers } from "../../__generated__/resolvers-types.js";

export const Viewer: ViewerResolvers = {
  keyId: (p) => p.keyId,
  organization: (p) => (p.orgId === null ? null : { id: p.orgId }),
  user: (p) => ({ id: p.userId }),
  scopes: (p) => [...p.scopes],
  clusterAdmin: (p) => p.clusterAdmin,
  onBehalfOf: (p) => p.onBehalfOf,
};
