import type { OrganizationResolvers, UserResolvers } from "../../__generated__/resolvers-types.js";

/** Identity entities: this subgraph knows them by id only; their usage fields live with usage. */
export const Organization: OrganizationResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
};

export const User: UserResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
};
