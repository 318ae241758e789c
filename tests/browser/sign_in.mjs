// Signs in on the service's page in headless Chromium, as a person would:
// opens the authorization URL, types the identifier and the password,
// presses "Sign in", and reports where the browser was sent back to.
//
// Usage: node sign_in.mjs AUTHORIZE_URL IDENTIFIER PASSWORD REDIRECT_PREFIX
// Prints one line: the URL of the browser's request to REDIRECT_PREFIX...
// (nothing needs to answer there), or `fail REASON` and exits 1.
// Chromium is Debian's (/usr/bin/chromium, or IDENTITY_CHROMIUM), started
// with the flags this closed network needs (no background connections).

import { chromium } from "playwright-core";

const [authorizeUrl, identifier, password, redirectPrefix] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.IDENTITY_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage();
  const violations = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  const response = await page.goto(authorizeUrl);
  if (response.status() !== 200) throw new Error(`the page answered ${response.status()}`);
  await page.getByLabel("Username, email or phone").fill(identifier);
  await page.getByLabel("Password").fill(password);
  const sentBack = page.waitForRequest((request) => request.url().startsWith(redirectPrefix), {
    timeout: 15000,
  });
  await page.getByRole("button", { name: "Sign in" }).click();
  const request = await sentBack;
  if (violations.length > 0) throw new Error(`policy violations: ${violations.join(" | ")}`);
  console.log(request.url());
} catch (error) {
  console.log(`fail ${String(error.message || error).replace(/\n/g, " ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
