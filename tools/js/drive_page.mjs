// Drive one page in headless Chromium (Debian's, through playwright-core) for a test:
//   node drive_page.mjs ORIGIN
// reads one JSON command per line on stdin and answers each with one JSON line on stdout:
//   {"op": "goto", "url"}                      open a page
//   {"op": "wait", "selector", "text"?, "attr"?: [name, value], "timeout"?}
//                                              until the selector matches (with that text or
//                                              attribute); answers its text
//   {"op": "click", "selector"} / {"op": "fill" | "select", "selector", "value"}
//   {"op": "count", "selector"} / {"op": "text", "selector"}
//   {"op": "eval", "js"}                      an expression's value in the page
//   {"op": "download", "selector"}            click a link; answers {name, size}
//   {"op": "screenshot", "path"}
//   {"op": "problems"}                        console errors and warnings, page errors, and
//                                              requests to anywhere but ORIGIN
//   {"op": "close"}
import { createInterface } from "node:readline";
import { stat } from "node:fs/promises";
import { chromium } from "playwright-core";

const origin = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const context = await browser.newContext({ acceptDownloads: true });
const page = await context.newPage();
const problems = [];
page.on("console", (m) => {
  if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error: ${e}`));
page.on("request", (r) => {
  if (!r.url().startsWith(origin) && !r.url().startsWith(origin.replace("http", "ws"))) {
    problems.push(`request outside the site: ${r.url()}`);
  }
});

async function run(cmd) {
  const timeout = cmd.timeout ?? 15000;
  switch (cmd.op) {
    case "goto":
      await page.goto(cmd.url, { waitUntil: "load" });
      return null;
    case "wait": {
      const locator = page.locator(cmd.selector).first();
      await locator.waitFor({ timeout });
      if (cmd.text !== undefined || cmd.attr !== undefined) {
        await page.waitForFunction(
          ([selector, text, attr]) => [...document.querySelectorAll(selector)].some((n) =>
            (text === null || n.textContent.includes(text)) &&
            (attr === null || n.getAttribute(attr[0]) === attr[1])),
          [cmd.selector, cmd.text ?? null, cmd.attr ?? null],
          { timeout },
        );
      }
      return await locator.textContent();
    }
    case "click":
      await page.locator(cmd.selector).first().click({ timeout });
      return null;
    case "fill":
      await page.locator(cmd.selector).first().fill(cmd.value, { timeout });
      return null;
    case "select":
      await page.locator(cmd.selector).first().selectOption(cmd.value, { timeout });
      return null;
    case "eval":
      return await page.evaluate(cmd.js);
    case "count":
      return await page.locator(cmd.selector).count();
    case "text":
      return await page.locator(cmd.selector).first().textContent({ timeout });
    case "download": {
      const [download] = await Promise.all([
        page.waitForEvent("download", { timeout }),
        page.locator(cmd.selector).first().click({ timeout }),
      ]);
      const path = await download.path();
      return { name: download.suggestedFilename(), size: (await stat(path)).size };
    }
    case "screenshot":
      await page.screenshot({ path: cmd.path, fullPage: true });
      return null;
    case "problems":
      return problems;
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.op === "close") break;
  try {
    const value = await run(cmd);
    console.log(JSON.stringify({ ok: true, value }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e) }));
  }
}
await browser.close();
