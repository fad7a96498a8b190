// The npm clamd clients (clamscan, clamdjs) against a clamd socket: one
// line per call, printed for the test to compare.
//   node clients.cjs SOCKET PORT EICAR CLEAN FOLDER
'use strict';
const fs = require('fs');
const { Readable } = require('stream');
const NodeClam = require('clamscan');
const clamdjs = require('clamdjs');

const [sock, port, eicar, clean, folder] = process.argv.slice(2);

async function clamscanOver(how) {
  const clamscan = await new NodeClam().init({
    removeInfected: false,
    debugMode: false,
    scanRecursively: true,
    clamscan: { active: false },
    clamdscan: { ...how, localFallback: false, active: true, timeout: 30000 },
    preference: 'clamdscan',
  });
  const file = async (p) => {
    const r = await clamscan.isInfected(p);
    return `${r.isInfected} ${JSON.stringify(r.viruses)}`;
  };
  const stream = async (bytes) => {
    const r = await clamscan.scanStream(Readable.from([bytes]));
    return `${r.isInfected} ${JSON.stringify(r.viruses)}`;
  };
  console.log(await file(eicar));
  console.log(await file(clean));
  console.log(await stream(fs.readFileSync(eicar)));
  console.log(await stream(Buffer.from('nothing here')));
  const dir = await clamscan.scanDir(folder);
  console.log(`${dir.isInfected} ${dir.badFiles.length} ${dir.goodFiles.length}`);
}

async function main() {
  await clamscanOver({ socket: sock, host: false, port: false });
  await clamscanOver({ socket: false, host: '127.0.0.1', port: Number(port) });
  const scanner = clamdjs.createScanner('127.0.0.1', Number(port));
  console.log(await clamdjs.ping('127.0.0.1', Number(port)));
  console.log(await scanner.scanBuffer(fs.readFileSync(eicar), 30000, 1024));
  console.log(await scanner.scanFile(clean, 30000, 1024));
  console.log(clamdjs.isCleanReply(await scanner.scanFile(eicar, 30000, 1024)));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  }
);
