/**
 * A line chart as a standalone SVG: capacity against replicas, with the ideal (linear) line. Written by hand
 * because it is one chart type with three series; a charting library would bring a browser DOM or a canvas.
 */
export interface ChartSeries {
  label: string;
  points: { x: number; y: number }[];
  color: string;
  dashed?: boolean;
}

export function lineChartSvg(title: string, xLabel: string, yLabel: string, series: readonly ChartSeries[]): string {
  const width = 700;
  const height = 400;
  const margin = { left: 70, right: 210, top: 40, bottom: 50 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const xMax = Math.max(...xs, 1);
  const yMax = niceCeiling(Math.max(...ys, 1));
  const px = (x: number) => margin.left + (x / xMax) * (width - margin.left - margin.right);
  const py = (y: number) => height - margin.bottom - (y / yMax) * (height - margin.top - margin.bottom);
  const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="${width / 2 - margin.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  );
  for (let k = 0; k <= 5; k++) {
    const y = (yMax * k) / 5;
    parts.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${margin.left - 8}" y="${py(y) + 4}" text-anchor="end">${Math.round(y)}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<text x="${px(x)}" y="${height - margin.bottom + 18}" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${height - margin.bottom}" stroke="#333"/>`);
  parts.push(
    `<line x1="${margin.left}" x2="${width - margin.right}" y1="${height - margin.bottom}" y2="${height - margin.bottom}" stroke="#333"/>`,
  );
  parts.push(`<text x="${(margin.left + width - margin.right) / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(
    `<text transform="translate(18 ${(margin.top + height - margin.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 5"' : ''}/>`);
    for (const p of s.points)
      parts.push(
        `<circle cx="${px(p.x)}" cy="${py(p.y)}" r="4" fill="${s.color}"><title>${esc(`${s.label}: ${p.x} → ${Math.round(p.y)}`)}</title></circle>`,
      );
    const ly = margin.top + 10 + i * 22;
    parts.push(
      `<line x1="${width - margin.right + 15}" x2="${width - margin.right + 45}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 5"' : ''}/>`,
    );
    parts.push(`<text x="${width - margin.right + 52}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}
