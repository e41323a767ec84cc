// Bundles entry.js as plotly.js bundles its own dist files: an IIFE defining the global `Plotly`,
// minified, with the attribute descriptions (documentation strings only the schema uses) left out.
const fs = require('fs');
const esbuild = require('esbuild');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const { environmentPlugin } = require('esbuild-plugin-environment');

// `description: '...'` alone on its line, or `description: ['...', ...].join(' ')`, in plotly's sources.
// Only values made of string literals are dropped, so no code is ever cut.
const STRING = "'(?:[^'\\\\\\n]|\\\\.)*'";
const DESCRIPTIONS = [
    new RegExp(`^\\s*description: ${STRING},?$`, 'gm'),
    new RegExp(`^\\s*description: \\[(?:\\s*${STRING}\\s*,?)*\\s*\\]\\.join\\('[^']*'\\),?$`, 'gm'),
];
const stripDescriptions = {
    name: 'strip-descriptions',
    setup(build) {
        build.onLoad({ filter: /plotly\.js[\\/]src[\\/].*\.js$/ }, async (args) => {
            let contents = await fs.promises.readFile(args.path, 'utf8');
            for (const pattern of DESCRIPTIONS) contents = contents.replace(pattern, '');
            return { contents, loader: 'js' };
        });
    },
};

esbuild.build({
    entryPoints: ['entry.js'],
    outfile: process.argv[2],
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'eof',
    plugins: [stripDescriptions, InlineCSSPlugin(), environmentPlugin({ NODE_DEBUG: false })],
    alias: { stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'warning',
}).catch(() => process.exit(1));
