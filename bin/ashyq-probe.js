#!/usr/bin/env node
// Entry point of the probe command line; the code lives in dist/ (built by `npm ci`).
import { main } from '../dist/probe/cli.js';

process.exitCode = await main(process.argv.slice(2));
