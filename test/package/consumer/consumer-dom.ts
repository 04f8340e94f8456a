// With the DOM lib (TypeScript's default lib when `lib` is not set), the global
// RequestInit has no `dispatcher`: mesh.fetch is the way, and its types are the DOM's.
import { createMesh, staticEndpoints } from 'proxyless';

const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:9080'] })] });
const viaMesh: Response = await mesh.fetch(new Request('http://reviews/'), { headers: new Headers({ 'x-a': '1' }) });
const asFetch: typeof fetch = mesh.fetch;
console.log(viaMesh.status, asFetch);
await mesh.close();
