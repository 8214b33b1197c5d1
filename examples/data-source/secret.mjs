#!/usr/bin/env node
/** Prints a new signing secret (`whsec_…`) for the source: give the same one to the backend and the engine. */
import { generateSigningSecret } from 'ablo/source';

process.stdout.write(`${generateSigningSecret()}\n`);
