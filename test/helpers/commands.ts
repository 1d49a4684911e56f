/**
 * Counting the database commands the service sends, through the driver's command monitoring
 * (the client must be created with `monitorCommands: true`, see startTestApp).
 */
import type { CommandStartedEvent, MongoClient } from "mongodb";

export interface SentCommand {
  name: string;
  /** The collection a command addresses (`aggregate: "sessions"`), when it names one. */
  collection: string | null;
}

/** Connection housekeeping and cursor continuation are not round trips a query chose to make. */
const HOUSEKEEPING = new Set(["hello", "isMaster", "ismaster", "ping", "endSessions", "getMore", "killCursors", "buildInfo"]);

export function recordCommands(client: MongoClient) {
  const sent: SentCommand[] = [];
  const listener = (e: CommandStartedEvent) => {
    if (HOUSEKEEPING.has(e.commandName)) return;
    const target = e.command[e.commandName];
    sent.push({ name: e.commandName, collection: typeof target === "string" ? target : null });
  };
  client.on("commandStarted", listener);
  return {
    sent,
    /** How many `name` commands went to `collection`. */
    count: (name: string, collection: string) => sent.filter((c) => c.name === name && c.collection === collection).length,
    stop: () => client.off("commandStarted", listener),
  };
}
