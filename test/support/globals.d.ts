// Tests read JSON bodies freely and assert on them; typing every body adds nothing.
declare global {
  interface Response {
    json(): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}
export {};
