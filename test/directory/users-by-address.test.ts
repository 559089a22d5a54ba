import { describe, expect, it } from 'vitest';
import { AmbiguousUserError, NotFoundError, usersByUpnOrMail, type DirectoryUser } from '../../directory/directory';

const user = (id: string, upn: string): DirectoryUser => ({ id, userPrincipalName: upn, displayName: upn, accountEnabled: true }) as DirectoryUser;

describe('usersByUpnOrMail', () => {
  const noor = user('1', 'noor@northwind.example');
  const admNoor = user('2', 'adm-noor@northwind.example');

  it('the sign-in name first, then the mail address', async () => {
    expect(await usersByUpnOrMail({ findUserByUpn: async () => noor, findUserByMail: async () => admNoor }, 'noor@northwind.example')).toEqual([noor]);
    expect(await usersByUpnOrMail({ findUserByUpn: async () => null, findUserByMail: async () => admNoor }, 'noor@northwind.example')).toEqual([admNoor]);
    expect(await usersByUpnOrMail({ findUserByUpn: async () => null, findUserByMail: async () => null }, 'nobody@northwind.example')).toEqual([]);
  });

  it('an address several accounts carry gives them all, for the caller to ask which one', async () => {
    const found = await usersByUpnOrMail(
      {
        findUserByUpn: async () => null,
        findUserByMail: async () => {
          throw new AmbiguousUserError('noor@northwind.example is on 2 accounts', [noor, admNoor]);
        },
      },
      'noor@northwind.example',
    );
    expect(found).toEqual([noor, admNoor]);
  });

  it('other failures are the caller’s to handle', async () => {
    await expect(
      usersByUpnOrMail(
        {
          findUserByUpn: async () => {
            throw new NotFoundError('gone');
          },
          findUserByMail: async () => null,
        },
        'x@northwind.example',
      ),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});
