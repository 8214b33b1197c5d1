/** `ablo/mcp`: arrives with the MCP issue; the entry point resolves so imports do not break. */
export {};
