/** `ablo/source`: arrives with its issue; the entry point resolves so imports do not break. */
export {};
