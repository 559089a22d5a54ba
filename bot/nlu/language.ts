import { StopwordsEn } from '@nlpjs/lang-en-min';

/**
 * Is a message written in another language than English? The helpdesk understands English
 * only, and a French or Polish message read as English words would be a guess: such a message
 * is answered with a short note in English, never started as a change.
 *
 * A small heuristic that can be explained to a user: for each language, its common function
 * words ("je", "mon", "est", "el", "mi", "het", "mijn", "jest", "ich", ...) and the words
 * people use to ask a helpdesk ("mot de passe", "contraseña", "wachtwoord", "hasło",
 * "zurücksetzen", ...) are counted, leaving out every word that is also English ("me", "a",
 * "die", "also"). A message is taken as not English when one language has at least two such
 * words and more than the English function words found ("the", "my", "can", "please"), or
 * when it is a short greeting or thanks in that language ("bonjour", "gracias"). Names and a
 * single borrowed word ("Jan de Vries can't sign in") stay English.
 */

/** Languages told apart, by ISO 639-1 code. */
export type OtherLanguage = 'de' | 'fr' | 'es' | 'it' | 'nl' | 'pt' | 'pl';

export const LANGUAGE_NAMES: Record<OtherLanguage, string> = {
  de: 'German',
  fr: 'French',
  es: 'Spanish',
  it: 'Italian',
  nl: 'Dutch',
  pt: 'Portuguese',
  pl: 'Polish',
};

/** What {@link detectLanguage} found. */
export interface LanguageGuess {
  /** `en` when the message reads as English (or too little is known to say otherwise). */
  language: 'en' | OtherLanguage;
  /** Words of the guessed language found in the message (none for English). */
  evidence: string[];
}

/**
 * Function words and helpdesk words per language, accents removed (the message is compared
 * without accents too, so "contraseña" and "contrasena" are one word). Words that are also
 * English are dropped below, whatever is written here.
 */
const WORDS: Record<OtherLanguage, string> = {
  de: `ich du er sie wir ihr mein meine meinen meinem mich mir dich dir sein ist sind bin bist habe hast hat haben nicht kein keine
    und oder aber mit fur von zu zum zur bei nach auf aus das der den dem des ein eine einen einem einer wie was warum wo wer kann
    konnen konnte bitte danke mochte brauche brauchen auch noch schon jetzt heute mehr vergessen zurucksetzen entsperren gesperrt
    zugang zugriff konto anmelden anmeldung kennwort passwort hallo guten morgen tag geht funktioniert`,
  fr: `je tu il elle nous vous ils elles mon ma mes ton ta tes son sa ses notre votre leur est suis es sont ai as avons avez ont
    et ou mais avec pour dans sur par de du des le la les un une au aux ce cette ces qui que quoi pourquoi comment quand ne pas plus
    peux pouvez puis voudrais besoin merci bonjour bonsoir salut oublie mot passe reinitialiser debloquer bloque acces compte
    connecter connexion aide aidez svp sil vous plait`,
  es: `yo tu el ella nosotros vosotros ellos mi mis tu tus su sus nuestro es soy eres son estoy esta estan he has ha hemos han y
    o pero con para por en sobre de del la las los un una unos al que quien como cuando donde porque puedo puede pueden quiero
    necesito gracias hola buenos buenas dias tardes olvide contrasena restablecer desbloquear bloqueada bloqueado acceso cuenta
    iniciar sesion ayuda favor`,
  it: `io tu lui lei noi voi loro mio mia miei mie tuo tua suo sua nostro e sono sei siamo siete ho hai abbiamo avete hanno ed o
    ma con per nel nella sul della dello degli delle il lo la gli le un uno una che chi come quando dove perche posso puoi puo
    vorrei voglio bisogno grazie ciao buongiorno buonasera dimenticato reimpostare sbloccare bloccato bloccata accesso account
    aiuto favore non`,
  nl: `ik jij je hij zij wij jullie mijn mij jouw zijn haar ons onze is ben bent heb hebt heeft hebben en of maar met voor in op van
    naar de het een wat wie hoe waar waarom wanneer kan kunnen kunt wil wilt graag nodig dank bedankt hallo goedemorgen goedemiddag
    wachtwoord vergeten herstellen ontgrendelen geblokkeerd toegang aanmelden inloggen alsjeblieft alstublieft niet geen ook`,
  pt: `eu tu ele ela nos voce voces eles meu minha meus minhas seu sua nosso e sou es somos sao estou esta estao tenho tem temos
    tem ou mas com para por em no na nos nas do da dos das o os as um uma que quem como quando onde porque posso pode podem quero
    preciso obrigado obrigada ola bom dia boa tarde esqueci senha redefinir desbloquear bloqueada bloqueado acesso conta entrar
    ajuda favor nao`,
  pl: `ja ty on ona my wy oni moj moja moje mojego mnie mi jest sa jestem mam masz ma mamy i lub ale z ze do na w we od dla po
    przez jak co kto kiedy gdzie dlaczego czy moge mozesz prosze potrzebuje dziekuje dzieki czesc dzien dobry zapomnialem
    zapomnialam haslo hasla zresetowac odblokowac zablokowane zablokowany konto dostep dostepu zalogowac pomoc nie sie`,
};

/** A greeting or thanks alone ("hola", "merci") is enough to tell the language. */
const GREETINGS: Record<OtherLanguage, string> = {
  de: 'danke guten morgen tag',
  fr: 'bonjour bonsoir merci',
  es: 'gracias buenos buenas dias',
  it: 'buongiorno buonasera grazie',
  nl: 'goedemorgen goedemiddag bedankt dank',
  pt: 'ola obrigado obrigada bom dia',
  pl: 'czesc dzien dobry dziekuje dzieki',
};

/**
 * English words that other languages also write (taken out of their lists), beyond NLP.js's
 * English stopwords: a word both languages use tells nothing.
 */
const ALSO_ENGLISH = new Set(
  `a an i me my he she we you your it is as am be been has have had in on of to do so no not also man will was war die den end
   just con come per son sin para pour plus more tag bin dies ten hell hello hallo account access password app admin vpn erp crm
   pc sap team me mi la le lo el ole ma mia sua tu nos ik hoe net plat dag ok okay`
    .split(/\s+/)
    .filter(Boolean),
);

/** English function words: the yardstick a foreign count must beat. */
const ENGLISH = new Set([
  ...Object.keys(new StopwordsEn().dictionary),
  ...'please can cant could need want give get reset unlock my i me you your the a an to for and with is are am was not no'.split(' '),
]);

function wordsOf(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/ł/g, 'l')
    .replace(/ø/g, 'o')
    .replace(/ß/g, 'ss')
    .replace(/[\u2019\u2018`']/g, ' ')
    .split(/[^a-z]+/)
    .filter((w) => w.length > 0);
}

const LANGUAGES = Object.keys(WORDS) as OtherLanguage[];
const VOCABULARY: Record<OtherLanguage, Set<string>> = Object.fromEntries(
  LANGUAGES.map((l) => [l, new Set(WORDS[l].split(/\s+/).filter((w) => w.length > 1 && !ALSO_ENGLISH.has(w) && !ENGLISH.has(w)))]),
) as Record<OtherLanguage, Set<string>>;
const GREETING_WORDS: Record<OtherLanguage, Set<string>> = Object.fromEntries(
  LANGUAGES.map((l) => [l, new Set(GREETINGS[l].split(/\s+/).filter((w) => w.length > 1 && !ALSO_ENGLISH.has(w) && !ENGLISH.has(w)))]),
) as Record<OtherLanguage, Set<string>>;

/** Longest message looked at (as the recognizer). */
const MAX_TEXT = 2000;

/** The language of a message: English unless the words of one other language clearly outnumber English ones. */
export function detectLanguage(text: string): LanguageGuess {
  const words = wordsOf(text.slice(0, MAX_TEXT));
  if (words.length === 0) return { language: 'en', evidence: [] };
  const english = words.filter((w) => ENGLISH.has(w)).length;
  let best: LanguageGuess = { language: 'en', evidence: [] };
  for (const language of LANGUAGES) {
    const vocabulary = VOCABULARY[language];
    const evidence = words.filter((w) => vocabulary.has(w));
    const greetingOnly = words.length <= 3 && english === 0 && words.some((w) => GREETING_WORDS[language].has(w));
    const clear = (evidence.length >= 2 && evidence.length > english) || greetingOnly;
    if (clear && evidence.length > best.evidence.length) best = { language, evidence };
  }
  return best;
}
