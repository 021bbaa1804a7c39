
import * as nb from 'file:///work/main/src/index.ts';
let message = '';
try { nb.setBackend('native'); } catch (e) { message = e.message; }
console.log(JSON.stringify({ backend: nb.getBackend().name, message }));
