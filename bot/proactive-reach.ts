import type { Directory } from '../directory/directory';
import { GraphClient } from '../directory/graph/client';
import { TeamsAppInstaller } from '../directory/graph/teams-app-installation';
import type { ProactiveReach } from './notifier';

/**
 * Proactive reach through Microsoft Graph: Teams creates a chat with someone who never talked
 * to the bot only when the app is installed for them. The app is installed in their personal
 * scope (`TeamsAppInstallation.ReadWriteSelfForUser.All`; an existing installation is reused)
 * and the chat that installation created is used. The app is found in the organisation's
 * catalog by its manifest id, the bot's app id (`AppCatalog.Read.All`), once per process.
 *
 * Null when the directory does not talk to Graph: the Bot Connector alone creates the chat.
 */
export function graphReach(directory: Directory, manifestId: string): ProactiveReach | null {
  const client = (directory as { client?: unknown }).client;
  if (!(client instanceof GraphClient)) return null;
  const installer = new TeamsAppInstaller(client);
  let catalogId: Promise<string | null> | null = null;
  return {
    async chatWith(userId: string): Promise<string> {
      catalogId ??= installer.findCatalogAppId(manifestId);
      let appId: string | null;
      try {
        appId = await catalogId;
      } catch (err) {
        catalogId = null;
        throw err;
      }
      if (!appId) {
        // Not uploaded to the catalog (yet): look again next time.
        catalogId = null;
        throw new Error(`the app ${manifestId} is not in the organisation's app catalog`);
      }
      return (await installer.ensureInstalledForUser(userId, appId)).chatId;
    },
  };
}
