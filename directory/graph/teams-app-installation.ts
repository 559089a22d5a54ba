import { DirectoryError } from '../directory';
import { guidArg } from '../rules';
import type { GraphClient } from './client';
import { graphStatus, toDirectoryError, type GraphOperation } from './errors';
import { filterEquals } from './odata';

/** Installing the helpdesk app for a user: `TeamsAppInstallation.ReadWriteSelfForUser.All`. */
export const INSTALL_FOR_USER: GraphOperation = {
  what: 'install the helpdesk app for the user',
  permission: 'TeamsAppInstallation.ReadWriteSelfForUser.All',
};

/** Finding the app in the organisation's catalog by its manifest id: `AppCatalog.Read.All`. */
export const READ_APP_CATALOG: GraphOperation = {
  what: "find the helpdesk app in the organisation's app catalog",
  permission: 'AppCatalog.Read.All',
};

export interface UserInstallation {
  /** The id of the 1:1 chat between the user and the app: a Bot Framework conversation id. */
  chatId: string;
  installationId: string;
  /** False when the app was already installed for the user. */
  newlyInstalled: boolean;
}

/**
 * Proactive reach for someone who never talked to the bot: install the app in their personal
 * scope through Graph, then read the 1:1 chat that installation created. Teams also sends the
 * bot a `conversationUpdate` for the new chat, from which the conversation reference is saved
 * as for any other conversation; the chat id returned here identifies the same conversation.
 *
 * `teamsAppId` is the app's id in the organisation's catalog (for an app uploaded by an
 * admin it differs from the manifest id; {@link findCatalogAppId} looks it up).
 */
export class TeamsAppInstaller {
  constructor(private readonly client: GraphClient) {}

  async ensureInstalledForUser(userId: string, teamsAppId: string): Promise<UserInstallation> {
    const uid = guidArg(userId, 'user id');
    const appId = guidArg(teamsAppId, 'Teams app id');
    let newlyInstalled = true;
    try {
      await this.client
        .api(`/users/${uid}/teamwork/installedApps`)
        .post({ 'teamsApp@odata.bind': `${this.client.origin}/v1.0/appCatalogs/teamsApps/${appId}` });
    } catch (e) {
      // 409: the app is already installed for this user, which is what we want.
      if (graphStatus(e) !== 409) throw toDirectoryError(e, INSTALL_FOR_USER);
      newlyInstalled = false;
    }
    const installationId = await this.findInstallation(uid, appId);
    let chat: { id?: unknown };
    try {
      chat = await this.client.api(`/users/${uid}/teamwork/installedApps/${encodeURIComponent(installationId)}/chat`).get();
    } catch (e) {
      throw toDirectoryError(e, INSTALL_FOR_USER);
    }
    if (typeof chat?.id !== 'string' || chat.id === '') throw new DirectoryError('Microsoft Graph returned no chat for the installation');
    return { chatId: chat.id, installationId, newlyInstalled };
  }

  /** The catalog id of the app whose manifest id is `manifestId` (the bot's app id here). */
  async findCatalogAppId(manifestId: string): Promise<string | null> {
    const external = guidArg(manifestId, 'manifest id');
    try {
      const page = await this.client
        .api(`/appCatalogs/teamsApps?$filter=${filterEquals('externalId', external)}&$select=id,externalId,distributionMethod`)
        .get();
      const apps = (page.value ?? []) as { id: string; distributionMethod?: string }[];
      const app = apps.find((a) => a.distributionMethod === 'organization') ?? apps[0];
      return app ? app.id.toLowerCase() : null;
    } catch (e) {
      throw toDirectoryError(e, READ_APP_CATALOG);
    }
  }

  private async findInstallation(uid: string, appId: string): Promise<string> {
    let page: { value?: { id?: unknown }[] };
    try {
      page = await this.client
        .api(`/users/${uid}/teamwork/installedApps?$expand=teamsApp&$filter=${filterEquals('teamsApp/id', appId)}`)
        .get();
    } catch (e) {
      throw toDirectoryError(e, INSTALL_FOR_USER);
    }
    const id = page.value?.[0]?.id;
    if (typeof id !== 'string' || id === '') throw new DirectoryError(`Microsoft Graph lists no installation of the app ${appId} for user ${uid}`);
    return id;
  }
}
