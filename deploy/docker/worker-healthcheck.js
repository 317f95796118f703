#!/usr/bin/env node
// Container health check of the autofix worker: healthy while the Temporal frontend in
// TEMPORAL_ADDRESS accepts connections (the worker process itself is PID 1; if it dies the
// container stops). Plain JS so it runs without the build.
'use strict';
const net = require('node:net');
const address = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
const i = address.lastIndexOf(':');
const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)), timeout: 3000 });
socket.on('connect', () => { socket.end(); process.exit(0); });
socket.on('timeout', () => { process.stderr.write(`timeout connecting to ${address}\n`); process.exit(1); });
socket.on('error', (e) => { process.stderr.write(`${address}: ${e.message}\n`); process.exit(1); });
