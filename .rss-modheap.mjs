// node --expose-gc /tmp/rss-modheap.mjs <module-url>... : heap used and RSS after importing each, cumulatively
const mu = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return [m.heapUsed / 1048576, m.rss / 1048576];
};
let [h0, r0] = mu();
console.log('base', h0.toFixed(1), r0.toFixed(1));
for (const spec of process.argv.slice(2)) {
  await import(spec);
  const [h, r] = mu();
  console.log(
    spec.padEnd(60),
    '+heap',
    (h - h0).toFixed(1),
    '+rss',
    (r - r0).toFixed(1),
    'total heap',
    h.toFixed(1),
  );
  h0 = h;
  r0 = r;
}
