import type { QueryResolvers } from "../../__generated__/resolvers-types.js";

export const Query: QueryResolvers = {
  viewer: (_parent, _args, ctx) => ctx.principal(),
};
