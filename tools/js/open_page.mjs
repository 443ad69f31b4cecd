// Open a local HTML file in headless Chromium (Debian's, driven by playwright-core):
//   node open_page.mjs PAGE.html SCREENSHOT.png
// Prints {title, rows, problems} as JSON; exits 1 if the page logged a console
// error or warning, threw, or asked for anything over the network.
import { resolve } from "node:path";
import { chromium } from "playwright-core";

const [page_file, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const problems = [];
try {
  const page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) problems.push(`network request: ${r.url()}`);
  });
  await page.goto("file://" + resolve(page_file), { waitUntil: "load" });
  // Use the page: filter the table, as a reader would.
  const rows = await page.locator("#dictionary tbody tr").count();
  await page.fill("#filter", "temperature");
  const count = await page.locator("#count").textContent();
  await page.fill("#filter", "");
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ title: await page.title(), rows, filtered: count, problems }));
} finally {
  await browser.close();
}
process.exit(problems.length ? 1 : 0);
