// The page's icon: a speech bubble, with a dot when something is unread
// (red for a mention), so a tab among many says where to look.

const BUBBLE =
  '<path d="M6 8h52a4 4 0 0 1 4 4v32a4 4 0 0 1-4 4H26l-12 10v-10H6a4 4 0 0 1-4-4V12a4 4 0 0 1 4-4z" fill="#2160c4"/>';

/** The icon as a data URL: with a dot for unread messages, red if any
 * of them mentions the user. */
export function faviconUrl(unread: number, mentions: number): string {
  const dot =
    mentions > 0
      ? '<circle cx="50" cy="14" r="13" fill="#d93025" stroke="#fff" stroke-width="3"/>'
      : unread > 0
        ? '<circle cx="50" cy="14" r="11" fill="#f2a900" stroke="#fff" stroke-width="3"/>'
        : "";
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">${BUBBLE}${dot}</svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

/** Shows `url` as the page's icon. */
export function setFavicon(url: string): void {
  let link = document.querySelector<HTMLLinkElement>("link[rel=icon]");
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.append(link);
  }
  if (link.href !== url) link.href = url;
}
