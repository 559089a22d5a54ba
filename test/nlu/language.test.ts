import { describe, expect, it } from 'vitest';
import { loadLabelled } from '../../bot/nlu/evaluate';
import { detectLanguage } from '../../bot/nlu/language';
import { loadCorpus } from '../../bot/nlu/recognizer';

describe('messages in another language', () => {
  it.each([
    ["J'ai oublié mon mot de passe", 'fr'],
    ['Bonjour, mon compte est bloqué', 'fr'],
    ['Olvidé mi contraseña', 'es'],
    ['Necesito acceso a la VPN, por favor', 'es'],
    ['Ho dimenticato la password, potete aiutarmi?', 'it'],
    ['Il mio account è bloccato', 'it'],
    ['Ik ben mijn wachtwoord vergeten', 'nl'],
    ['Mijn account is geblokkeerd, kunnen jullie helpen?', 'nl'],
    ['Esqueci minha senha', 'pt'],
    ['Preciso de acesso à VPN', 'pt'],
    ['Zapomniałem hasła', 'pl'],
    ['Moje konto jest zablokowane', 'pl'],
    ['Ich habe mein Passwort vergessen', 'de'],
    ['Passwort vergessen', 'de'],
    ['Können Sie mein Konto entsperren?', 'de'],
    ['Gracias', 'es'],
    ['merci', 'fr'],
  ])('%j is %s', (text, language) => {
    expect(detectLanguage(text).language).toBe(language);
  });

  it('names the words it went by', () => {
    expect(detectLanguage('Olvidé mi contraseña').evidence).toEqual(['olvide', 'contrasena']);
  });

  it.each([
    'reset my password',
    'Jan de Vries can not sign in',
    'reset the password for Maria da Silva please',
    'I need access to the VPN for my trip to Paris',
    'hola',
    'salut',
    'ciao',
    'hallo',
    'passwort reset please',
    'I need access to the CRM, por favor',
    'la la la',
    '',
    '???',
  ])('%j is English (or too little to tell)', (text) => {
    expect(detectLanguage(text).language).toBe('en');
  });

  it('reads every labelled English sentence and every training sentence as English', () => {
    const texts = [
      ...['dev.jsonl', 'holdout.jsonl', 'holdout-2.jsonl'].flatMap((f) => loadLabelled(`nlu-eval/${f}`).map((r) => r.text)),
      ...Object.values(loadCorpus()).flat(),
    ];
    expect(texts.length).toBeGreaterThan(1500);
    expect(texts.filter((t) => detectLanguage(t).language !== 'en')).toEqual([]);
  });
});
