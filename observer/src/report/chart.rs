//! A timeline drawn as an SVG string by plotters, to be inlined in the page. Three lanes: the
//! unit's state, its datagrams, its MainPID; timeouts cross all of them. Times on the x axis
//! are seconds from the first item, labelled with the wall clock.

use plotters::{coord::Shift, prelude::*};

use super::timeline::{Flag, FlagKind, MAINPID_COLOUR, TIMEOUT_COLOUR, Timeline};
use crate::wall_time::Zone;

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 230;

const STATE_LANE: f64 = 2.0;
const MESSAGE_LANE: f64 = 1.0;
const MAINPID_LANE: f64 = 0.0;
const LANES: [(f64, &str); 3] = [
    (STATE_LANE, "state"),
    (MESSAGE_LANE, "messages"),
    (MAINPID_LANE, "MainPID"),
];

fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
    RGBColor(r, g, b)
}

/// The SVG of `t`, its time axis in `zone`.
pub fn svg(t: &Timeline, zone: &Zone) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, t, zone).map_err(|e| anyhow::anyhow!("drawing the timeline: {e}"))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing the timeline: {e}"))?;
    }
    Ok(out)
}

type Result<T> = std::result::Result<T, DrawingAreaErrorKind<std::io::Error>>;

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, t: &Timeline, zone: &Zone) -> Result<()> {
    root.fill(&WHITE)?;
    let t0 = t.first_ns;
    let x = |ns: i128| (ns - t0) as f64 / 1e9;
    // A little room either side, so marks at the ends are whole; one second for a lone instant.
    let span = x(t.last_ns).max(1e-3);
    let pad = if t.last_ns == t.first_ns {
        1.0
    } else {
        span * 0.04
    };
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(78)
        .build_cartesian_2d(-pad..span + pad, -0.6f64..2.6f64)?;
    let wall = |s: &f64| zone.clock_ms(t0 + (s * 1e9) as i128);
    let lane = |y: &f64| {
        LANES
            .iter()
            .find(|(l, _)| (y - l).abs() < 1e-6)
            .map_or(String::new(), |(_, n)| (*n).to_owned())
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(6)
        .x_label_formatter(&wall)
        .y_labels(7)
        .y_label_formatter(&lane)
        .label_style(("sans-serif", 12))
        .draw()?;

    let font = ("sans-serif", 11).into_font();
    // The last state holds to the right edge: the unit was still in it when the items end.
    let end = |i: usize, to_ns: i128| {
        if i + 1 == t.segments.len() {
            span + pad
        } else {
            x(to_ns)
        }
    };
    chart.draw_series(t.segments.iter().enumerate().map(|(i, s)| {
        Rectangle::new(
            [
                (x(s.from_ns), STATE_LANE - 0.35),
                (end(i, s.to_ns), STATE_LANE + 0.35),
            ],
            rgb(s.state.colour()).filled(),
        )
    }))?;
    // Name the states where there is room for the word.
    chart.draw_series(
        t.segments
            .iter()
            .enumerate()
            .filter(|(i, s)| end(*i, s.to_ns) - x(s.from_ns) > span * 0.08)
            .map(|(_, s)| {
                Text::new(
                    s.sub_state.clone(),
                    (x(s.from_ns) + span * 0.005, STATE_LANE + 0.1),
                    font.clone(),
                )
            }),
    )?;

    // Messages sent together would hide each other: step them up and down the lane.
    chart.draw_series(t.messages.iter().enumerate().map(|(i, m)| {
        let y = MESSAGE_LANE + 0.22 * ((i % 3) as f64 - 1.0);
        Circle::new((x(m.wall_ns), y), 5, rgb(m.verdict.colour()).filled())
    }))?;
    // A MAINPID= request in the MainPID lane too, coloured by what became of it.
    chart.draw_series(
        t.messages
            .iter()
            .filter(|m| m.mainpid)
            .map(|m| TriangleMarker::new((x(m.wall_ns), MAINPID_LANE), 7, rgb(m.verdict.colour()))),
    )?;

    for f in &t.flags {
        flag(&mut chart, f, x(f.wall_ns), span, &font)?;
    }
    Ok(())
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn flag(
    chart: &mut Chart<'_, '_>,
    f: &Flag,
    at: f64,
    span: f64,
    font: &FontDesc<'_>,
) -> Result<()> {
    let (colour, y_text) = match f.kind {
        FlagKind::MainPid(_) => {
            chart.draw_series(std::iter::once(TriangleMarker::new(
                (at, MAINPID_LANE),
                7,
                rgb(MAINPID_COLOUR).filled(),
            )))?;
            (MAINPID_COLOUR, MAINPID_LANE + 0.18)
        }
        _ => {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(at, -0.6), (at, 2.6)],
                rgb(TIMEOUT_COLOUR).stroke_width(2),
            )))?;
            (TIMEOUT_COLOUR, MESSAGE_LANE + 0.5)
        }
    };
    // Near the right edge the label goes to the left of its mark, so it is not cut off.
    let x_text = if at > span * 0.85 {
        at - span * 0.13
    } else {
        at
    };
    chart.draw_series(std::iter::once(Text::new(
        f.label(),
        (x_text, y_text),
        font.color(&rgb(colour)),
    )))?;
    Ok(())
}
