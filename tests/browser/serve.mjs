// zoo serve's page in a real browser: Debian's Chromium, headless, driven by playwright-core.
// Usage: node tests/browser/serve.mjs BASE_URL [SCREENSHOT_DIR]
// Run by tests/zoo/serve.rs against a server on loopback holding tiny runs named cnn, vae, gan,
// attention, char-lstm, dqn and multitask. Exits 1 with a message on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, shots] = process.argv.slice(2);
if (!base) {
  console.error("usage: node serve.mjs BASE_URL [SCREENSHOT_DIR]");
  process.exit(2);
}
if (shots) mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // The machine's network is closed: no background connections, no sandbox as root.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
const problems = [];
page.on("console", (message) => { if (message.type() === "error") problems.push(`console: ${message.text()}`); });
page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));

function check(condition, message) {
  if (!condition) throw new Error(message);
}
async function shot(name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}
async function canvasData(selector) {
  return page.$eval(selector, (canvas) => canvas.toDataURL());
}

try {
  // The runs view lists the fixture runs.
  await page.goto(base + "/#/");
  await page.waitForSelector("tr[data-run='cnn']");
  for (const id of ["cnn", "vae", "gan", "attention", "char-lstm", "dqn", "multitask"]) {
    check(await page.$(`tr[data-run='${id}']`), `the runs view lists ${id}`);
  }
  await shot("runs");

  // Strokes of a "7" drawn on the canvas: the top class is 7.
  await page.goto(base + "/#/run/cnn");
  const pad = await page.waitForSelector("canvas[aria-label='draw a digit']");
  const box = await pad.boundingBox();
  const at = (x, y) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(0.25, 0.22));
  await page.mouse.down();
  for (let t = 0; t <= 1; t += 0.1) await page.mouse.move(...at(0.25 + 0.5 * t, 0.22));
  for (let t = 0; t <= 1; t += 0.1) await page.mouse.move(...at(0.75 - 0.3 * t, 0.22 + 0.62 * t));
  await page.mouse.up();
  await page.waitForFunction(() => {
    const bar = document.querySelector("[data-answer='classify'] .bar.top span");
    return bar && bar.textContent === "7";
  }, null, { timeout: 15000 }).catch(async () => {
    const seen = await page.$eval("[data-answer='classify']", (node) => node.textContent);
    throw new Error(`a drawn 7 should be classified 7; the page says: ${seen}`);
  });
  await page.waitForSelector(".chart canvas");
  await shot("cnn");

  // A click on the latent plane changes the decoded picture.
  await page.goto(base + "/#/run/vae");
  const plane = await page.waitForSelector("canvas[aria-label='latent plane']");
  const planeBox = await plane.boundingBox();
  await page.mouse.click(planeBox.x + planeBox.width * 0.2, planeBox.y + planeBox.height * 0.2);
  await page.waitForFunction(() => /z = /.test(document.body.textContent));
  await page.waitForTimeout(500);
  const first = await canvasData("[data-answer='decode']");
  await page.mouse.click(planeBox.x + planeBox.width * 0.85, planeBox.y + planeBox.height * 0.8);
  await page.waitForFunction((before) => document.querySelector("[data-answer='decode']").toDataURL() !== before, first, { timeout: 10000 })
    .catch(() => { throw new Error("another latent point should decode to another picture"); });
  await shot("vae");

  // The GAN's grid, and new samples on request.
  await page.goto(base + "/#/run/gan");
  await page.waitForFunction(() => /16 samples, seed 0/.test(document.body.textContent));
  const grid = await canvasData("[data-answer='sample']");
  await page.click("button:has-text('New samples')");
  await page.waitForFunction(() => /seed 1/.test(document.body.textContent));
  check(grid !== await canvasData("[data-answer='sample']"), "new samples differ");
  await shot("gan");

  // The text classifier shades the words.
  await page.goto(base + "/#/run/attention");
  await page.click("button:has-text('Classify')");
  await page.waitForSelector("[data-answer='classify-text'] .words span");
  const words = await page.$$eval("[data-answer='classify-text'] .words span", (spans) => spans.length);
  check(words === 11, `every word of the sample sentence is shown (${words})`);
  await shot("attention");

  // The language model writes, streamed.
  await page.goto(base + "/#/run/char-lstm");
  await page.click("button:has-text('Write')");
  await page.waitForFunction(() => document.querySelector("[data-answer='generate']").textContent.length >= "Call me Ishmael.".length + 400,
    null, { timeout: 20000 }).catch(() => { throw new Error("400 characters should follow the prompt"); });
  await shot("char-lstm");

  // The agent plays an episode to its end.
  await page.goto(base + "/#/run/dqn");
  await page.click("button:has-text('Play')");
  await page.waitForFunction(() => /episode over after/.test(document.body.textContent), null, { timeout: 20000 });
  await shot("dqn");

  // Two runs on one chart.
  await page.goto(base + "/#/compare/cnn,vae");
  await page.waitForSelector(".chart canvas");
  await shot("compare");

  check(problems.length === 0, "no console errors: " + problems.join("; "));
  console.log("browser checks passed");
} catch (error) {
  console.error(`browser check failed: ${error.message}${problems.length ? " (console: " + problems.join("; ") + ")" : ""}`);
  await shot("failure");
  process.exitCode = 1;
} finally {
  await browser.close();
}
