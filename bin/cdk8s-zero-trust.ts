#!/usr/bin/env node
/** The `cdk8s-zero-trust` command; see `cdk8s-zero-trust --help`. */
import { main } from '../lib/cli';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
