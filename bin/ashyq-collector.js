#!/usr/bin/env node
// Entry point of the collector command line; the code lives in dist/ (built by `npm ci`).
import { main } from '../dist/collector/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
