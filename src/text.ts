// Text as papersift shows it. One sanitiser for every text field of every text output (issue 17): corpus
// text and metadata come from files a user downloaded, and must not drive the terminal or forge lines.

/** C0 and C1 controls, DEL, and the bidirectional marks, embeddings, overrides and isolates. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const LINE_BREAK = /\r\n|[\n\r\t\v\f\u0085\u2028\u2029]/g;

/**
 * One field as it may be shown on a terminal, on one line: line breaks and tabs become spaces; escape
 * sequences (which could clear the screen or retitle the window), other controls and bidi overrides go.
 * Text renderers pass every field through it, and messages every corpus value they quote.
 */
export function printable(text: string): string {
  return text.replace(LINE_BREAK, " ").replace(CONTROL, "");
}

/** Characters that show nothing: whitespace, controls, format characters and the default-ignorable ones. */
const INVISIBLE = /^[\s\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\u2800]*$/u;

/**
 * Does the text show nothing? A title of zero-width spaces, soft hyphens, word joiners or BOMs is as empty as
 * one of spaces (issue 17): such entries are reported, and such questions are empty.
 */
export function isBlank(text: string): boolean {
  return INVISIBLE.test(text);
}
