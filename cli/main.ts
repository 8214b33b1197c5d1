/** The `ablo` CLI entry (replaced by the full commander program). */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--version')) {
    process.stdout.write('0.1.0\n');
    return 0;
  }
  return 0;
}
