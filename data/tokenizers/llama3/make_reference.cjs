// Writes a Llama 3 tokenizer.json and reference token ids from the npm package llama3-tokenizer-js
// (see README.md).  Usage: node make_reference.cjs <package>/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs <out-dir>
// The package loads as CommonJS only under a .cjs name: copy the bundle to that name first.
const {llama3Tokenizer: t} = require(require('path').resolve(process.argv[2]))
const fs = require('fs')
const vocab = {}
for (let i = 0; i < 128000; i++) vocab[t.vocabById[i]] = i
const merges = Array.from(t.merges.entries()).sort((a, b) => a[1] - b[1]).map(e => e[0])
const added = []
for (let i = 128000; i < t.vocabById.length; i++) added.push({id: i, content: t.vocabById[i], special: true})
const j = {version: "1.0", added_tokens: added, normalizer: null,
  pre_tokenizer: {type: "Sequence", pretokenizers: [
    {type: "Split", pattern: {Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, behavior: "Isolated", invert: false},
    {type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false}]},
  post_processor: {type: "TemplateProcessing", single: [{SpecialToken: {id: "<|begin_of_text|>", type_id: 0}}, {Sequence: {id: "A", type_id: 0}}]},
  decoder: {type: "ByteLevel"},
  model: {type: "BPE", ignore_merges: true, vocab, merges}}
fs.writeFileSync(process.argv[3] + '/tokenizer.json', JSON.stringify(j))
const texts = ["grabbed", " grabbed", "           grabbed", "\n", " \n", "\ttabs\t\t\t\tout here", "ax\n####\nboo", "镇", "🦙", "🦙Ꙋ", "Ꙋ🦙", "This is a test sentence.",
  "<|start_header_id|>This text has special tokens<|eom_id|> in the middle of it.<|end_header_id|><|eot_id|>",
  "I'LL see YOU'RE 1234567 items...\n\n  ok", "Hello, world! It's 2024 and we're testing GPT-2's tokenizer.", "  leading spaces,\ttabs\nand\n\nnewlines   ",
  "naïve café — über façade 東京 😀 x²+y³", "def f(x):\n    return x**2  # square\n\n\nprint(f(12345))"]
const out = texts.map(s => ({text: s, ids: t.encode(s, {bos: true, eos: false})}))
fs.writeFileSync(process.argv[3] + '/expected.json', JSON.stringify(out))
console.log(merges.length, t.vocabById.length)
