// A Chart.js chart (bars or lines) on a canvas. The values drawn are also written to the
// canvas's data-values attribute (read back from the chart), for tests and tools.

import { BarController, BarElement, CategoryScale, Chart as ChartJs, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

ChartJs.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);

const COLORS = ['#2553c7', '#d9480f', '#2b8a3e', '#862e9c', '#c92a2a', '#0b7285', '#e67700', '#5f3dc4', '#a61e4d', '#364fc7'];

export interface Series {
  label: string;
  data: number[];
}

interface Props {
  type: 'bar' | 'line';
  labels: string[];
  series: Series[];
  name: string;
  yTitle?: string;
}

export function Chart(p: Props): JSX.Element {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const el = canvas.current;
    if (el === null) return;
    const chart = new ChartJs(el, {
      type: p.type,
      data: {
        labels: p.labels,
        datasets: p.series.map((s, i) => ({
          label: s.label,
          data: s.data,
          backgroundColor: p.series.length === 1 && p.type === 'bar' ? COLORS[0] : COLORS[i % COLORS.length],
          borderColor: COLORS[i % COLORS.length],
          tension: 0.2,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: p.series.length > 1 } },
        scales: { y: { beginAtZero: true, title: { display: p.yTitle !== undefined, text: p.yTitle ?? '' } } },
      },
    });
    el.dataset.values = JSON.stringify(chart.data.datasets.map((d) => d.data));
    el.dataset.labels = JSON.stringify(chart.data.labels);
    return () => chart.destroy();
  }, [p.type, JSON.stringify(p.labels), JSON.stringify(p.series)]);
  return (
    <div class="chart-box">
      <canvas ref={canvas} data-chart={p.name} role="img" aria-label={`${p.name} chart`} />
    </div>
  );
}
