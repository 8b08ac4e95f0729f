#!/usr/bin/env node
console.log('eptfuzz');
