/**
 * Fault injection for tests, through the commands MongoDB itself has (so the same test runs
 * against a real mongod started with enableTestCommands): the `failCommand` fail point and the
 * transaction lifetime. See src/embedded/README.md for what each `data` field does.
 */
import type { Document, MongoClient } from "mongodb";

export type FailPointMode = "alwaysOn" | "off" | { times: number } | { skip: number };

export interface FailCommandData {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
  writeConcernError?: Document;
  appName?: string;
}

/** Arms `failCommand`; the returned function turns it off. */
export async function failCommand(client: MongoClient, mode: FailPointMode, data: FailCommandData): Promise<() => Promise<void>> {
  await client.db("admin").command({ configureFailPoint: "failCommand", mode, data });
  return async () => {
    await client.db("admin").command({ configureFailPoint: "failCommand", mode: "off" });
  };
}

/** Sets `transactionLifetimeLimitSeconds`; the returned function restores the previous value. */
export async function setTransactionLifetime(client: MongoClient, seconds: number): Promise<() => Promise<void>> {
  const { was } = await client.db("admin").command({ setParameter: 1, transactionLifetimeLimitSeconds: seconds });
  return async () => {
    await client.db("admin").command({ setParameter: 1, transactionLifetimeLimitSeconds: was });
  };
}
