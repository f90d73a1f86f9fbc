// Palette system API (syslogin, SCAR config, internal sync jobs). See client.ts.
export * from "./client.ts";
export * from "./registries.ts";
